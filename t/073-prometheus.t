# upbot_metrics as a real Prometheus server sees it: Debian's prometheus,
# started here with a 1 s scrape interval and its own temporary storage,
# scrapes the metrics location, and its HTTP API answers the requests made
# before (7 GetMediaInfo with ret 0, 2 with ret 1003) and the funnel of a
# code flagged "metrics", whose label escaping it parses back.  A scrape
# after varied traffic (an event batch, a code with a quote and a
# backslash) passes "promtool check metrics" with nothing to say.  Every
# expression of conf-examples/grafana-upbot.json is valid PromQL to that
# server.  A plain Test::More test: it runs a server beside nginx.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $prometheus = '/usr/bin/prometheus';
my $promtool = '/usr/bin/promtool';

plan skip_all => "no $prometheus (Debian's prometheus package)"
    unless -x $prometheus;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 15;
my $pport = base_port() + 16;
my $root = File::Spec->rel2abs("t/servroot-prometheus");
my $modules = main_prelude();
my ($master, $prom);

# nginx and prometheus go at the end, whatever happened before
END {
    local $?;
    stop_all();
}

$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

sub stop_all {
    if ($prom) {
        kill 'TERM', $prom;
        my $gone;
        for (1 .. 100) {
            $gone = waitpid($prom, POSIX::WNOHANG()) == $prom and last;
            sleep 0.05;
        }
        if (!$gone) {
            kill 'KILL', $prom;
            waitpid($prom, 0);
        }
        undef $prom;
    }

    if ($master) {
        kill 'QUIT', $master;
        for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }
        kill 'KILL', $master if kill 0, $master;
        undef $master;
    }
}

# a code with a quote and a backslash; escaped as nginx's, JSON's and
# Prometheus' quoted strings all escape them
my $odd = 'q"b\\s';
(my $odd_q = $odd) =~ s/([\\"])/\\$1/g;

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  2;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  256;
}

http {
    access_log  off;
    client_body_temp_path  $root/body;

    upbot_zone         upbot:1m;
    upbot_attribution  on;
    upbot_codes {
        c1         static  g1  url=https://x/1 metrics;
        c2         static  g1  url=https://x/2;
        c3         static  g1  url=https://x/3 max_views=1;
        c3         static  g2  url=https://x/3b;
        "$odd_q"  static  g1  url=https://x/q metrics;
    }

    server {
        listen  127.0.0.1:$port;

        location = /m {
            upbot_auth_tokens  tokens;
            upbot_get_media_info;
        }

        location = /e {
            upbot_auth_tokens  tokens;
            upbot_report_media_event;
            upbot_event_log  $root/logs/events.jsonl;
        }

        location = /metrics {
            upbot_metrics;
        }
    }
}
_EOC_

sub media {
    my ($code, $trace) = @_;
    $trace //= 't';
    return post_media_info($port, '{"account_info":{"account_type":2,'
        . '"appid":"a","openid":"o"},"media_type":2,"code":"' . $code
        . '","trace_id":"' . $trace . '"}');
}

sub events {
    my @items = map { "{\"event_id\":\"$_->[0]\",\"code\":\"$_->[1]\","
                      . "\"trace_id\":\"$_->[2]\"}" } @_;
    return post_events($port, '{"head":{"account_info":{"account_type":2,'
        . '"appid":"a","openid":"o"}},"items":[' . join(',', @items) . ']}');
}

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

$master = wait_for_pid("$root/logs/nginx.pid");

my ($ok, $nope) = (0, 0);
for (1 .. 7) { $ok++ if media('c1') =~ /"ret":0,/ }
for (1 .. 2) { $nope++ if media('nope') =~ /"ret":1003,/ }
is($ok, 7, '7 GetMediaInfo answered with ret 0');
is($nope, 2, '2 GetMediaInfo answered with ret 1003');


# prometheus, in a directory of its own that it alone writes to

my $tmp = tempdir('prometheus-XXXXXX', DIR => $root, CLEANUP => 1);
make_path("$tmp/data");

write_file("$tmp/prometheus.yml", <<"_EOC_");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s

scrape_configs:
  - job_name: upbot
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$port']
_EOC_

$prom = fork // die "fork: $!";

if ($prom == 0) {
    chdir $tmp or POSIX::_exit(111);
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$tmp/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    {   # its own block: "exec" returns only when it fails
        exec $prometheus, "--config.file=$tmp/prometheus.yml",
             "--storage.tsdb.path=$tmp/data",
             "--storage.tsdb.retention.time=1h",
             "--web.listen-address=127.0.0.1:$pport",
             "--web.console.templates=$tmp/consoles",
             "--web.console.libraries=$tmp/console_libraries",
             "--log.level=warn";
    }
    POSIX::_exit(112);
}

my $http = HTTP::Tiny->new(timeout => 5);
my $api = "http://127.0.0.1:$pport";

# the answer of an instant query: its result vector, or undef
sub query {
    my ($q) = @_;
    my $res = $http->get("$api/api/v1/query?"
                         . $http->www_form_urlencode({ query => $q }));
    return undef unless $res->{success};
    my $json = eval { decode_json($res->{content}) } or return undef;
    return undef unless ($json->{status} // '') eq 'success';
    return $json->{data}{result};
}

# the value of a query whose answer is one sample, or undef
sub value {
    my $r = query(@_);
    return undef unless $r && @$r == 1;
    return $r->[0]{value}[1];
}

# until every query gives its value, within $secs; the values last seen
sub wait_values {
    my ($secs, %want) = @_;
    my %got;
    my $end = time() + $secs;

    while (1) {
        %got = map { $_ => value($_) } keys %want;
        last unless grep { ($got{$_} // '') ne $want{$_} } keys %want;
        last if time() > $end;
        sleep 0.25;
    }

    return %got;
}

my $ready = 0;
for (1 .. 100) {
    last if waitpid($prom, POSIX::WNOHANG()) == $prom;
    if ($http->get("$api/-/ready")->{status} == 200) {
        $ready = 1;
        last;
    }
    sleep 0.1;
}

ok($ready, 'prometheus is ready')
    or diag(slurp("$tmp/prometheus.log"));

my $q_ok = 'upbot_requests_total{api="GetMediaInfo",ret="0"}';
my $q_nope = 'upbot_requests_total{api="GetMediaInfo",ret="1003"}';
# two series: group "g1", and the one tied to no group (0)
my $q_answer = 'sum(upbot_code_funnel_total{code="c1",step="answer"})';

my %got = wait_values(20, $q_ok => 7, $q_nope => 2, $q_answer => 7);

is($got{$q_ok}, 7, "prometheus: $q_ok is 7")
    or diag(slurp("$tmp/prometheus.log"));
is($got{$q_nope}, 2, "prometheus: $q_nope is 2");
is($got{$q_answer}, 7, "prometheus: $q_answer is 7");
is(value('up{job="upbot"}'), 1, 'prometheus: the target is up');

my $targets = $http->get("$api/api/v1/targets");
my $health = eval {
    decode_json($targets->{content})->{data}{activeTargets}[0]{lastError}
} // 'no answer';
is($health, '', 'prometheus: no scrape error')
    or diag(slurp("$tmp/prometheus.log"));


# varied traffic: more answers, a switch to the next group, events of the
# funnel's three ids and another, the odd code

media('c1', 'tr-1');
media('c2');
media('c3');
media('c3');
media($odd_q, 'tr-odd');
like(events(['1110201', 'c1', 'tr-1'], ['1110204', 'c1', 'tr-1'],
            ['1100102', 'c1', 'tr-1'], ['1110201', $odd_q, 'tr-odd'],
            ['1110201', 'c2', 'tr-x'], ['42', 'c1', 'tr-1']),
     qr/"ret":0/, 'an event batch stored');

my $scrape = get_body($port, '/metrics');
like($scrape, qr/^upbot_code_funnel_total\{code="\Q$odd_q\E",group="g1",step="exposure"\} 1$/m,
     'the scrape: the odd code\'s funnel, its label escaped');
like($scrape, qr/^upbot_events_total\{event_id="other"\} 1$/m,
     'the scrape: an event of another id');
like($scrape, qr/^upbot_event_log_bytes_total [1-9]\d*$/m,
     'the scrape: the event log\'s bytes');

SKIP: {
    skip "no $promtool", 2 unless -x $promtool;

    write_file("$tmp/scrape.txt", $scrape);
    my $lint = `$promtool check metrics < '$tmp/scrape.txt' 2>&1`;
    is($? >> 8, 0, 'promtool check metrics: exit 0');
    is($lint, '', 'promtool check metrics: nothing to say');
}

# Prometheus parsed the escaped label back into the code's own name
(my $odd_promql = $odd) =~ s/([\\"])/\\$1/g;
my $q_odd = "sum(upbot_code_funnel_total{code=\"$odd_promql\",step=\"exposure\"})";
my $q_jump = 'sum(upbot_code_funnel_total{code="c1",step="jump"})';
%got = wait_values(10, $q_odd => 1, $q_jump => 1);
is($got{$q_odd}, 1, 'prometheus: the odd code\'s exposure, by its own name');
is($got{$q_jump}, 1, 'prometheus: c1\'s jump');


# every expression of the dashboard is PromQL this server takes, with
# Grafana's variables given values

my $dash = File::Spec->rel2abs('conf-examples/grafana-upbot.json');

SKIP: {
    skip 'no conf-examples/grafana-upbot.json', 1 unless -f $dash;

    my $json = decode_json(slurp($dash));
    my @exprs;
    my $walk;
    $walk = sub {
        for my $p (@{ $_[0] || [] }) {
            push @exprs, map { $_->{expr} } grep { defined $_->{expr} }
                         @{ $p->{targets} || [] };
            $walk->($p->{panels});
        }
    };
    $walk->($json->{panels});

    my @bad;
    for my $e (@exprs) {
        (my $q = $e) =~ s/\$__rate_interval|\$__range|\$__interval/1m/g;
        $q =~ s/\$\{?(\w+)\}?/.*/g;
        my $res = $http->get("$api/api/v1/query?"
                             . $http->www_form_urlencode({ query => $q }));
        push @bad, "$q: $res->{content}" unless $res->{success};
    }

    ok(@exprs && !@bad, 'prometheus takes each of the dashboard\'s '
                        . scalar(@exprs) . ' expressions')
        or diag(join "\n", @bad);
}

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

my ($m, $p) = ($master, $prom);
stop_all();

ok(!(kill 0, $m), 'nginx stopped');
ok(!(kill 0, $p), 'prometheus stopped');

done_testing();
