# The metrics are one view across workers, kept across a reload and zero
# after a restart: 200 GetMediaInfo and 40 event batches at once over 4
# workers, then scrapes over fresh connections (answered by several
# workers) all give the same counts; upbot_event_log_bytes_total is the
# event log's size.  A plain Test::More test: Test::Nginx's data format
# has no concurrent clients.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 18;
my $root = File::Spec->rel2abs("t/servroot-metrics");
my $master;

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

sub configure {
    my ($gen) = @_;

    write_file("$root/conf/nginx.conf",
               nginx_conf(root => $root, port => $port, gen => $gen,
                          http => <<"_EOH_", server => <<"_EOS_"));
    upbot_zone         upbot:1m;
    upbot_attribution  on;
    upbot_auth_tokens  tokens;
    upbot_codes {
        c1     static  g1  url=https://x/1 max_views=120 metrics;
        c1     static  g2  url=https://x/2;
        other$gen  static  g1  url=https://x/gen;
    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Pid \$pid always;
        }
        location = /e {
            upbot_report_media_event;
            upbot_event_log  $root/logs/events.jsonl;
        }
        location = /metrics {
            upbot_metrics;
            add_header X-Pid \$pid always;
        }
_EOS_
}

sub info {
    my ($trace) = @_;
    return '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
           . "\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"$trace\"}";
}

sub batch {
    my ($trace) = @_;
    return '{"head":{"account_info":{"account_type":2,"appid":"a",'
           . '"openid":"o"}},"items":['
           . "{\"event_id\":\"1110201\",\"code\":\"c1\",\"trace_id\":\"$trace\"},"
           . "{\"event_id\":\"1100102\",\"code\":\"c1\",\"trace_id\":\"$trace\"}]}";
}

# $n scrapes, each on a connection of its own: the values of the lines
# asked for, per scrape, and the workers that answered
sub scrapes {
    my ($n, @names) = @_;
    my (%pids, @seen);

    for (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 5)
            or next;
        print $s "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
        local $/;
        my $resp = <$s> // '';
        $pids{$1} = 1 if $resp =~ /^X-Pid: (\d+)\r$/m;
        push @seen, join ' ', map {
            $resp =~ /^\Q$_\E (\S+)$/m ? $1 : 'missing' } @names;
    }

    return (\@seen, scalar keys %pids);
}

# a request is counted in its log phase, which its worker runs just after
# the answer has gone: a scrape that another worker answers at once may
# come before it (once in a CI run, 200 of 201).  Until a scrape says
# $want (at most 2 s), then the check
sub settle {
    my ($want, @names) = @_;

    for (1 .. 40) {
        my ($seen) = scrapes(1, @names);
        return if $seen->[0] eq $want;
        sleep 0.05;
    }
}

my @lines = ('upbot_requests_total{api="GetMediaInfo",ret="0"}',
             'upbot_requests_total{api="ReportMediaEvent",ret="0"}',
             'upbot_picks_total{outcome="first"}',
             'upbot_picks_total{outcome="switched"}',
             'upbot_events_total{event_id="1110201"}',
             'upbot_code_funnel_total{code="c1",group="g1",step="answer"}',
             'upbot_code_funnel_total{code="c1",group="g2",step="answer"}',
             'upbot_code_funnel_total{code="c1",group="g1",step="exposure"}',
             'upbot_code_funnel_total{code="c1",group="g2",step="jump"}',
             'upbot_event_log_bytes_total');

configure(1);

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

$master = wait_for_pid("$root/logs/nginx.pid");

# 200 answers (120 of g1, 80 of g2), then 40 batches, half of them for
# traces shown g1 and half for traces shown g2, side by side
my @answers = post_side_by_side($port, map { [info("t$_"), 0] } 1 .. 200);
my %by = (g1 => [], g2 => []);
for my $i (0 .. $#answers) {
    push @{ $by{ $answers[$i]{answer} =~ m{x/1"} ? 'g1' : 'g2' } }, "t" . ($i + 1);
}
is(scalar @{ $by{g1} }, 120, '200 at once: 120 answers name g1 (max_views=120)');

my @kids;
for my $trace (@{ $by{g1} }[0 .. 19], @{ $by{g2} }[0 .. 19]) {
    my $pid = fork // die $!;
    if ($pid == 0) {
        post_events($port, batch($trace));
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid($_, 0) for @kids;

my $size = -s "$root/logs/events.jsonl";
my $want = "200 40 120 80 40 120 80 20 20 $size";

settle($want, @lines);
my ($seen, $workers) = scrapes(24, @lines);
is(scalar(grep { $_ eq $want } @$seen), 24,
   "24 scrapes all say: $want")
    or diag(join "\n", @$seen);
cmp_ok($workers, '>=', 2, "... answered by $workers workers");


# a reload keeps every count; the new configuration counts on
configure(2);
ok(reload_to($master, $port, 2), 'reloaded');

post_media_info($port, info("after"));
settle("201 81", $lines[0], $lines[6]);
($seen) = scrapes(8, $lines[0], $lines[6]);
is(scalar(grep { $_ eq "201 81" } @$seen), 8,
   'after the reload: 201 answers, g2\'s 81 (the counts were kept)')
    or diag(join "\n", @$seen);


# a restart: zero
kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0,
   'nginx starts again');
$master = wait_for_pid("$root/logs/nginx.pid");

($seen) = scrapes(4, $lines[0], $lines[9]);
is(scalar(grep { $_ eq "0 0" } @$seen), 4, 'after a restart: zero');

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();
