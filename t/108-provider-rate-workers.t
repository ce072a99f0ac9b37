# rate= holds across workers: 40 cold codes at once over four workers, an
# app at rate=10r/s.  With rate_wait=5s every request is answered, and the
# calls start one every 0.12 s: never more than 10 in any second (any
# window of one second, not only those starting on a whole second), as
# nginx logs their subrequests' start; the mock, which notes a call when
# it has answered it, sees them as they come through the network and its
# own queue (a diagnostic: on a loaded machine it sees bunches).
# Then at rate=2r/s with rate_wait=1s the requests whose slot is further
# off get 1005 with HTTP 503 at once, and no call is made for them (2r/s:
# forty clients forked on a loaded machine may take seconds to come).
# A plain Test::More test: Test::Nginx's data format has no concurrent
# clients.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use MockIM;
use Test::More;
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 19;
my $root = File::Spec->rel2abs("t/servroot-rate");
my $master;

my %groups = map { ("\@TGS#r$_" => { Name => "r$_", MemberNum => 1,
                                     MaxMemberNum => 200 }) } 1 .. 80;

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'k', identifier => 'admin' } },
             groups => \%groups },
});

my $mock = $MockIM::Port;

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

sub configure {
    my ($gen, $rate, $wait, $first) = @_;
    my $rows = join '', map { "        r$_  tim:prod  \@TGS#r$_;\n" }
                        $first .. $first + 39;

    write_file("$root/conf/nginx.conf",
               nginx_conf(root => $root, port => $port, gen => $gen,
                          http => <<"_EOH_", server => <<"_EOS_"));
    log_format  calls  '\$msec \$request_time';

    upbot_zone         upbot:1m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k
                     location=/_upbot/tim rate=$rate rate_wait=$wait;
    upbot_codes {
$rows    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Pid \$pid always;
        }

        location = /_upbot/tim {
            internal;
            log_subrequest  on;
            access_log  logs/calls.log  calls;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
        }
_EOS_
}

# the 40 codes at once: status and ret of each, and the workers
sub burst {
    my $first = shift;
    my @specs = map {
        ['{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
         . "\"media_type\":2,\"code\":\"r$_\",\"trace_id\":\"t$_\"}", 0]
    } $first .. $first + 39;

    my (%by, %pids);

    for my $r (post_side_by_side($port, @specs)) {
        my ($status) = $r->{answer} =~ m{^HTTP/1\.1 (\d+)};
        my ($ret) = $r->{answer} =~ /"ret":(\d+)/;
        $by{ ($status // 0) . '/' . ($ret // '-') }++;
        $pids{$1} = 1 if $r->{answer} =~ /^X-Pid: (\d+)\r$/m;
    }

    return (\%by, scalar keys %pids);
}

# the most calls started in any one second, from nginx's log of the
# calls (the end, less the time taken), how many, and their span; the most
# the mock saw in a second
sub busiest {
    my @t = sort { $a <=> $b } map { /^([\d.]+) ([\d.]+)$/ ? $1 - $2 : () }
            split /\n/, slurp("$root/logs/calls.log");
    my @m = sort { $a <=> $b } map { $_->{time} } MockIM::calls(provider => 'tim');

    truncate "$root/logs/calls.log", 0;

    # the time between each two starts (the log counts milliseconds)
    my @gaps = map { $t[$_] - $t[$_ - 1] } 1 .. $#t;

    return (most(@t), scalar @t, @t ? $t[-1] - $t[0] : 0, most(@m), \@gaps);
}

sub most {
    my @t = @_;
    my ($most, $j) = (0, 0);

    for my $i (0 .. $#t) {
        $j++ while $t[$i] - $t[$j] >= 1;
        $most = $i - $j + 1 if $i - $j + 1 > $most;
    }

    return $most;
}


# 1. rate_wait=5s: every one answered, at 10 calls a second

configure(1, '10r/s', '5s', 1);

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

$master = wait_for_pid("$root/logs/nginx.pid");

MockIM::reset();

my ($by, $workers) = burst(1);
is($by->{'200/0'} // 0, 40, '40 cold codes at once: all answered')
    or diag(explain $by);
cmp_ok($workers, '>=', 2, "... by $workers workers");

my ($most, $calls, $span, $seen, $gaps) = busiest();
is($calls, 40, '40 calls');
# calls at their slots are 0.12 s apart.  A worker that runs a call's
# timer late (a loaded CI machine: 0.09 s once) makes the gap before it
# longer and the one after it shorter by as much, so the slots show in
# the middle gap and in how few are short; calls paced by a window of
# the rate would come in bunches, most of them less than 0.01 s apart.
my @by = sort { $a <=> $b } @$gaps;
my $short = grep { $_ < 0.08 } @by;
cmp_ok($by[@by / 2] // 0, '>=', 0.11,
       sprintf('evenly: the middle gap between two calls %.3f s (0.12 s '
               . 'at 10r/s)', $by[@by / 2] // 0));
cmp_ok($short, '<=', 3, "... $short of 39 under 0.08 s (each a late timer)")
    or diag(join ' ', map { sprintf '%.3f', $_ } @$gaps);
cmp_ok($most, '<=', 10, "at most 10 calls in any one second ($most; the "
                        . "mock saw $seen)");
cmp_ok($span, '>=', 39 * 0.12 - 0.01,
       sprintf('the 40 calls spread over %.2f s (39 times 0.12 s)', $span));


# 2. rate=2r/s rate_wait=1s: those whose slot is further off are not called

configure(2, '2r/s', '1s', 41);
ok(reload_to($master, $port, 2), 'reloaded with rate=2r/s rate_wait=1s');
sleep 1.2;          # the slots of 1. are past

MockIM::reset();

($by) = burst(41);
my $ok = $by->{'200/0'} // 0;
my $refused = $by->{'503/1005'} // 0;

is($ok + $refused, 40, "40 answered: $ok with a group, $refused 1005/503")
    or diag(explain $by);
cmp_ok($ok, '>=', 2, 'the slots within the second were taken');
cmp_ok($refused, '>=', 1, '... and the others refused, not waited for');

($most, $calls, undef, $seen) = busiest();
is($calls, $ok, 'a call for each answer with a group, none for the others');
cmp_ok($most, '<=', 2, "at most 2 calls in any one second ($most; the "
                        . "mock saw $seen)");

like(slurp("$root/logs/error.log"),
     qr/\[warn\] .*upbot: tim:prod: no call within 1000 ms at its rate=2r\/s/,
     'the refusals are logged');

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();
