#!/usr/bin/env perl
# 7. Providers that fail, one phase each, on a code no one has fetched yet
# (so every answer waits for a call or for its failure): Tencent hangs
# (accepts, never answers); Yunxin answers HTTP 500; an app whose provider
# refuses the connection (127.0.0.1:FAULTS_DEAD_PORT, where nothing
# listens); Tencent trickles its response header (8 bytes every 400 ms:
# nginx bounds the whole header with one proxy_read_timeout); Tencent and
# then Yunxin trickle their answer (64 bytes every 1.5 s: the header is in
# within 1.5 s, and no read of the body waits as long as proxy_read_timeout,
# which starts again at each read, so the answer takes 7 to 15 s).  Six
# clients ask at once, again and again, for PHASE seconds, each giving up
# after $give_up s.  Every GetMediaInfo must be answered within $bound: the
# per-call deadline ($deadline s) plus a margin.
#
# The per-call deadline is "timeout=" of upbot_tim and upbot_yunxin, used
# here when nginx -t accepts it (it is being added, default 3 s); before
# that, the calls are bounded by proxy_read_timeout (3 s, set here) between
# two reads only, so a trickling provider holds requests far longer: that
# check is then shown as a known defect (not failing) instead of failing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Time::HiRes qw(sleep time);

my $deadline = $ENV{FAULTS_DEADLINE} || 3;        # s, timeout= of the apps
my $margin = $ENV{FAULTS_DEADLINE_MARGIN} || 1;   # s
my $bound = $deadline + $margin;
my $give_up = $bound + 6;                        # s, a client's own limit
my $phase = $ENV{FAULTS_PHASE_SECONDS} || 5;
my $streams = 6;

my $dir = workdir();
my ($port, $mock) = (port(0), port(1));
my $dead = $ENV{FAULTS_DEAD_PORT} || 8999;

# does this module know timeout= (per provider)?
my %timeout = map { $_ => probe_timeout($_) } qw(tim yunxin);
note("timeout= accepted by nginx -t: tim " . ($timeout{tim} ? 'yes' : 'no')
     . ", yunxin " . ($timeout{yunxin} ? 'yes' : 'no'));

my %fx = %{ mock_fixtures() };
$fx{tim}{groups}{$_} = { Name => $_, MemberNum => 1, MaxMemberNum => 200 }
    for '@TGS#hang', '@TGS#slowh', '@TGS#slow', '@TGS#dead';
$fx{yunxin}{teams}{$_} = { name => "t$_", member_count => 1,
                           members_limit => 200 } for 20001, 20002;

start_mock(dir => "$dir/mock", port => $mock, fixtures => \%fx);

my $tim_t = $timeout{tim} ? " timeout=${deadline}s" : '';
my $yx_t = $timeout{yunxin} ? " timeout=${deadline}s" : '';

my $conf = upbot_conf(
    dir => $dir, port => $port, workers => 2,
    http_extra => <<"_EOC_",
    upbot_zone    faults:1m;
    upbot_cache   ttl=60s stale=10m lock_timeout=5s retry=1s;
    upbot_tim     f     sdkappid=1400000000 identifier=admin
                        key=faults-tim-key location=/_upbot/tim$tim_t;
    upbot_yunxin  f     appkey=faultsappkey secret=faults-yx-secret
                        location=/_upbot/yunxin/$yx_t;
    upbot_tim     dead  sdkappid=1400000000 identifier=admin
                        key=faults-tim-key location=/_upbot/dead$tim_t;
    upbot_codes {
        hang     tim:f     \@TGS#hang  url=https://example.com/h;
        e500     yunxin:f  20001/1     url=https://example.com/e;
        refused  tim:dead  \@TGS#dead  url=https://example.com/d;
        slowhead tim:f     \@TGS#slowh url=https://example.com/sh;
        slow     tim:f     \@TGS#slow  url=https://example.com/s;
        slowyx   yunxin:f  20002/1     url=https://example.com/y;
    }
_EOC_
    server_extra => <<"_EOC_");
        location = /_upbot/tim {
            internal;
            proxy_pass  http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
            proxy_connect_timeout  1s;
            proxy_read_timeout     ${deadline}s;
        }

        location /_upbot/yunxin/ {
            internal;
            proxy_pass  http://127.0.0.1:$mock/im/v2.1/teams/;
            proxy_connect_timeout  1s;
            proxy_read_timeout     ${deadline}s;
        }

        location = /_upbot/dead {
            internal;
            proxy_pass  http://127.0.0.1:$dead/v4/group_open_http_svc/get_group_info\$is_args\$args;
            proxy_connect_timeout  1s;
            proxy_read_timeout     ${deadline}s;
        }
_EOC_

my $master = start_nginx(dir => $dir, port => $port, conf => $conf);

# [code, what, provider, fault, bounded only by the per-call deadline]
my @phases = (
    ['hang', 'Tencent hangs', 'tim', { mode => 'hang' }, 0],
    ['e500', 'Yunxin answers HTTP 500', 'yunxin', { mode => 'http500' }, 0],
    ['refused', 'the provider refuses the connection', undef, undef, 0],
    # nginx times the whole response header with one proxy_read_timeout
    ['slowhead', 'Tencent trickles its header (8 bytes / 400 ms)', 'tim',
     { mode => 'slow', chunk => 8, every_ms => 400 }, 0],
    # the body: proxy_read_timeout starts again at every read
    ['slow', 'Tencent trickles its answer (64 bytes / 1.5 s)', 'tim',
     { mode => 'slow', chunk => 64, every_ms => 1500 }, 1],
    ['slowyx', 'Yunxin trickles its answer (64 bytes / 1.5 s)', 'yunxin',
     { mode => 'slow', chunk => 64, every_ms => 1500 }, 1],
);

my $overall = 0;

for my $p (@phases) {
    my ($code, $what, $provider, $fault, $needs_deadline) = @$p;

    MockIM::fault(provider => $provider, %$fault) if $provider;

    my $until = time + $phase;

    for my $s (1 .. $streams) {
        load_media(file => "$dir/$code-$s.txt", port => $port,
                   codes => [$code], tag => "$code$s", until => $until,
                   timeout => $give_up);
        sleep 0.05;
    }

    reap_all($give_up + $phase + 10);
    MockIM::fault(provider => $provider, mode => 'none') if $provider;

    my $t = tally(glob "$dir/$code-*.txt");
    my @secs = @{ $t->{seconds} };
    my $max = percentile(100, @secs);
    my $late = grep { $_ > $bound } @secs;
    my $unanswered = $t->{C};
    my $has_deadline = $code eq 'slowyx' ? $timeout{yunxin} : $timeout{tim};
    my %known = $needs_deadline && !$has_deadline
        ? (known => "no per-call deadline (timeout=) in this build: a "
                    . "trickling provider holds a GetMediaInfo until its "
                    . "whole answer is in, proxy_read_timeout bounds one "
                    . "read only")
        : ();

    print "  -- $what (code \"$code\")\n";
    info("$code: requests", $t->{batches});
    figure("$code: answers not a row of the error table", $t->{X}, '==', 0);
    # no facts can come from a provider that fails: 1005; a trickled answer
    # that is whole before the deadline is a success (ret 0)
    my $expected = ($t->{ret}{'1005/502'} // 0) + ($t->{ret}{'1005/504'} // 0)
                   + ($needs_deadline ? $t->{A} : 0);
    figure("$code: answers other than 1005" . ($needs_deadline
                                                ? ' or ret 0' : ''),
           $t->{A} + $t->{T} - $expected, '==', 0);
    figure("$code: max wait for an answer", $max, '<=', $bound, unit => 's',
           %known);
    figure("$code: requests without an answer within $give_up s",
           $unanswered, '==', 0, %known);
    info("$code: requests answered after $bound s, or not at all", $late);
    note("  $code: the clients gave up after $give_up s: no answer had come")
        if $unanswered;
    info("$code: p50 wait", percentile(50, @secs), unit => 's');
    note("  $code answers: " . join(', ', map { "$_ $t->{ret}{$_}" }
                                          sort keys %{ $t->{ret} }));
    note("  e.g. $_") for grep { !/^C/ } @{ $t->{examples} };

    $overall = $max if $max > $overall && !%known;
}

info('max wait over the phases (those of known defects left out)',
     $overall, unit => 's');
info("bound: the per-call deadline + margin", $bound, unit => 's');

my $alive = nginx_alive($master);
stop_nginx($master, 5);
figure('nginx master alive', $alive, '==', 1);
log_figures($dir, no_alerts => 1);


sub probe_timeout {
    my $which = shift;
    my $p = "$dir/probe-$which";
    mkdir $p;
    mkdir "$p/logs";
    my $modules = join '', map { "load_module $_;\n" }
                  Faults::modules();

    my $conf = sub {
        my $extra = shift;
        my ($t, $y) = $which eq 'tim' ? ($extra, '') : ('', $extra);
        return <<"_EOC_";
$modules
error_log  $p/logs/error.log;
pid        $p/logs/nginx.pid;
events {}
http {
    upbot_zone    probe:1m;
    upbot_tim     p  sdkappid=1400000000 identifier=admin key=k location=/_t$t;
    upbot_yunxin  y  appkey=a secret=s location=/_y/$y;
    upbot_codes {
        c  tim:p     \@TGS#x  url=https://example.com/c;
        d  yunxin:y  1/1      url=https://example.com/d;
    }
    server {
        listen  127.0.0.1:$dead;
        location = /m  { upbot_get_media_info; upbot_auth_tokens off; }
        location = /_t { internal; proxy_pass http://127.0.0.1:$dead; }
        location /_y/  { internal; proxy_pass http://127.0.0.1:$dead; }
    }
}
_EOC_
    };

    write_file("$p/plain.conf", $conf->(''));
    my ($st, $out) = nginx_t($p, "$p/plain.conf");
    die "the probe's configuration fails nginx -t:\n$out" if $st;

    write_file("$p/timeout.conf", $conf->(" timeout=${deadline}s"));
    ($st, $out) = nginx_t($p, "$p/timeout.conf");
    return $st == 0;
}
