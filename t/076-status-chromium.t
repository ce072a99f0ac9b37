# upbot_status's HTML page in a real browser: headless Chromium loads a
# code's page after a scripted visit (answer, exposure, long-press, jump)
# and its DOM shows the funnel's steps and counts and each group's state;
# a screenshot is a PNG.  The same pages as JSON decode as JSON.  A plain
# Test::More test: it runs a program beside nginx.  Skipped without
# Debian's chromium.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP;
use Test::More;

my ($chromium) = grep { -x "$_/chromium" } split /:/, $ENV{PATH} // '';

plan skip_all => 'no chromium in PATH' unless $chromium;

$chromium .= '/chromium';

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 14;
my $root = File::Spec->rel2abs("t/servroot-status-chromium");
my $modules = main_prelude();

remove_tree($root);
make_path("$root/conf", "$root/logs", "$root/home");
write_file("$root/conf/tokens", "t0k3n\n");

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  1;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log  off;
    client_body_temp_path  $root/body;

    upbot_zone         upbot:1m;
    upbot_attribution  on;
    upbot_auth_tokens  tokens;
    upbot_event_log    $root/logs/events.jsonl;
    upbot_codes {
        poster  static  g-full  url=https://x/full members=200 max_members=200
                                metrics;
        poster  static  g-open  url=https://x/open "name=<b>open</b>"
                                members=12 max_members=200;
        poster  static  kf      url=https://x/kf fallback;
    }

    server {
        listen  127.0.0.1:$port;

        location = /m {
            upbot_get_media_info;
        }
        location = /e {
            upbot_report_media_event;
        }
        location = /status {
            allow  127.0.0.1;
            deny   all;
            upbot_status;
        }
    }
}
_EOC_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");

END {
    kill 'QUIT', $master if $master;
}


# the visit: two answers, then a batch of the funnel's three steps for the
# first one's trace

for my $trace (qw(tr-1 tr-2)) {
    like(post_media_info($port, '{"account_info":{"account_type":2,'
                                . '"appid":"a","openid":"o"},'
                                . '"media_type":2,"code":"poster",'
                                . "\"trace_id\":\"$trace\"}"),
         qr{"url":"https://x/open"}, "GetMediaInfo answers g-open ($trace)");
}

my @items = map { "{\"event_id\":\"$_\",\"code\":\"poster\","
                  . "\"trace_id\":\"tr-1\"}" } qw(1110201 1110204 1100102);

like(post_events($port, '{"head":{"account_info":{"account_type":2,'
                        . '"appid":"a","openid":"o"}},"items":['
                        . join(',', @items) . ']}'),
     qr/"ret":0/, 'the events are stored');


# the JSON pages are JSON

my $json = JSON::PP->new;

my $code = eval { $json->decode(get_body($port, '/status?code=poster')) };
ok($code, 'the code\'s status is JSON') or diag($@);
is($code->{answer}{id}, 'g-open', '... the group answered now');
is($code->{skipped}[0]{reason}, 'full', '... g-full skipped: full');
is($code->{pool}[1]{configured}{name}, '<b>open</b>', '... a name as it is');
is_deeply($code->{funnel}{total},
          { answer => 2, exposure => 1, long_press => 1, jump => 1 },
          '... the funnel\'s totals');

my $summary = eval { $json->decode(get_body($port, '/status')) };
ok($summary, 'the summary is JSON') or diag($@);
is($summary->{codes}, 1, '... one code');
is($summary->{funnels}[0]{steps}{jump}, 1, '... the flagged code\'s jumps');


# the HTML page in Chromium: the DOM after its parsing

my $url = "http://127.0.0.1:$port/status?code=poster&format=html";

sub chromium {
    my @args = @_;
    local $ENV{HOME} = "$root/home";

    # its stderr (D-Bus complaints) into a file; a browser that hangs is
    # stopped after a minute
    open my $stderr, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>>', "$root/logs/chromium.stderr" or die "stderr: $!";

    my $pid = open my $out, '-|', 'timeout', '-k', '5', '60', $chromium,
                   '--headless', '--no-sandbox', '--disable-gpu',
                   '--no-first-run', "--user-data-dir=$root/home/profile",
                   @args;

    open STDERR, '>&', $stderr or die "dup: $!";
    die "chromium: $!" unless $pid;

    local $/;
    my $text = <$out> // '';
    close $out;
    return ($text, $? >> 8);
}

my ($dom, $rc) = chromium('--dump-dom', $url);
is($rc, 0, 'chromium --dump-dom ends by itself');

like($dom, qr{<h1>Code <code>poster</code></h1>}, 'the DOM has the code');

my %steps = (answer => 2, exposure => 1, long_press => 1, jump => 1);

for my $step (sort keys %steps) {
    like($dom, qr{<th>$step</th><td class="n">$steps{$step}</td>},
         "... the funnel's $step: $steps{$step}");
}

like($dom, qr{<div class="bar b0" style="width:100%">},
     '... the answers as a full bar');
like($dom, qr{<div class="bar b1" style="width:50%">},
     '... the exposures as half of it');
like($dom, qr{<code>g-full</code>.*?<td class="state s-full">full</td><td>full</td>}s,
     '... g-full full, and skipped for it');
like($dom, qr{<code>g-open</code>.*?<td class="state s-usable">usable</td><td>answered</td>}s,
     '... g-open usable, and answered');
like($dom, qr{&lt;b&gt;open&lt;/b&gt;}, '... its name as text');
unlike($dom, qr{<b>open</b>}, '... not as markup');


# a screenshot

my $png = "$root/status.png";

(undef, $rc) = chromium("--screenshot=$png", '--window-size=1200,900',
                        '--hide-scrollbars', $url);
is($rc, 0, 'chromium --screenshot ends by itself');

my $bytes = slurp($png);
ok(length($bytes) > 1000, 'the screenshot has ' . length($bytes) . ' bytes');
is(substr($bytes, 0, 8), "\x89PNG\r\n\x1a\n", '... of a PNG');

done_testing();
