# Warm restarts under load, four workers: 60 live codes are warmed through
# the mock, then clients ask for them without a pause while nginx is
#
#   1. stopped (QUIT) and started again: the master writes the state file
#      at exit, the new one loads it;
#   2. upgraded in place (USR2: a new master on the same binary, which
#      loads the file the old workers wrote within the last second; then
#      QUIT to the old master);
#   3. reloaded (HUP): the zone is kept, nothing is loaded.
#
# No answer is 1005 and none is a MISS: every code answers from facts at
# once (a stop and start leaves a gap when nothing listens: a request then
# has no answer at all, and is counted apart).  The facts are past their ttl (2 s) after each restart, so they are
# refreshed in the background, at the app's rate=20r/s: never more than 20
# calls started in any second (nginx's log of the calls), the overlap of a
# binary upgrade too, when the old and the new nginx pace their calls
# together in the page beside the state file.  Last, the state file holds
# the 60 groups' facts and no secret.  A plain Test::More test: Test::Nginx's data format has no
# concurrent clients or restarts.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use MockIM;
use POSIX ();
use StateFile;
use Test::More;
use Time::HiRes qw(sleep time);

my $nginx = File::Spec->rel2abs($ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx');
my $port = base_port() + 17;
my $root = File::Spec->rel2abs("t/servroot-warm");
my $n = 60;
my $rate = 20;
my @codes = map { "w$_" } 1 .. $n;

my %groups = map { ("\@TGS#w$_" => { Name => "w$_", MemberNum => 1,
                                     MaxMemberNum => 200 }) } 1 .. $n;

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-secret-key',
                                       identifier => 'admin' } },
             groups => \%groups },
});

my $mock = $MockIM::Port;

remove_tree($root);
make_path("$root/conf", "$root/logs", "$root/load");
write_file("$root/conf/tokens", "t0k3n\n");

my $rows = join '', map { "        $_  tim:prod  \@TGS#$_;\n" } @codes;

# env: a binary upgrade execs nginx with only the variables "env" names,
# and a sanitized build (make check-asan) needs its options in the new one
write_file("$root/conf/nginx.conf",
           nginx_conf(root => $root, port => $port, reuseport => 0,
                      main => <<"_EOM_", http => <<"_EOH_", server => <<"_EOS_"));
env ASAN_OPTIONS;
env UBSAN_OPTIONS;
_EOM_
    log_format  calls  '\$msec \$request_time';

    upbot_zone         upbot:1m state=logs/upbot.state state_interval=1s;
    upbot_cache        ttl=2s stale=10m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-secret-key
                     location=/_upbot/tim rate=${rate}r/s rate_wait=5s;
    upbot_codes {
$rows    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Cache \$upbot_cache_status always;
        }

        location = /_upbot/tim {
            internal;
            log_subrequest  on;
            access_log  logs/calls.log  calls;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
        }
_EOS_


sub body {
    my $code = shift;
    return '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
           . "\"media_type\":2,\"code\":\"$code\",\"trace_id\":\"t-warm\"}";
}

sub ask {
    my $resp = post_media_info($port, body(shift));
    my ($ret) = $resp =~ /"ret":(\d+)/;
    my ($cache) = $resp =~ /^X-Cache: (\w*)\r$/m;
    return ($ret // 'none', $cache // '-');
}

sub start_nginx {
    is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0,
       'nginx starts') or BAIL_OUT("cannot start nginx");
    return wait_for_pid("$root/logs/nginx.pid");
}

# until the process has exited (its exit hook has written the file)
sub wait_gone {
    my $pid = shift;
    for (1 .. 400) {
        return 1 unless kill 0, $pid;
        sleep 0.025;
    }
    return 0;
}

# clients asking for the codes in turn, each its own process, each answer
# a line "time ret cache" in its own file; they stop when "stop" appears
my @clients;

sub load_start {
    unlink "$root/load/stop";
    unlink glob("$root/load/*.log");

    for my $c (1 .. 3) {
        my $pid = fork // die $!;

        if ($pid == 0) {
            open my $out, '>', "$root/load/$c.log" or die $!;
            $out->autoflush(1);
            my $i = $c * 17;
            until (-e "$root/load/stop") {
                my ($ret, $cache) = ask($codes[$i++ % $n]);
                printf $out "%.3f %s %s\n", time, $ret, $cache;
            }
            POSIX::_exit(0);
        }

        push @clients, $pid;
    }
}

# the answers between two times, by "ret cache", and how many
sub load_stop {
    write_file("$root/load/stop", '');
    waitpid($_, 0) for @clients;
    @clients = ();

    my (%by, $all);
    for my $f (glob "$root/load/*.log") {
        for (split /\n/, slurp($f)) {
            my (undef, $ret, $cache) = split / /;
            $by{"$ret $cache"}++;
            $by{"ret $ret"}++;
            $all++;
        }
    }
    return (\%by, $all // 0);
}

# the calls nginx started since the log was last emptied (their start: the
# end less the time taken), from the time given on: how many, and the most
# in any one second
sub calls {
    my $from = shift // 0;
    my @t = sort { $a <=> $b } grep { $_ >= $from }
            map { /^([\d.]+) ([\d.]+)$/ ? $1 - $2 : () }
            split /\n/, slurp("$root/logs/calls.log");

    my ($most, $j) = (0, 0);
    for my $i (0 .. $#t) {
        $j++ while $t[$i] - $t[$j] >= 1;
        $most = $i - $j + 1 if $i - $j + 1 > $most;
    }

    return (scalar @t, $most);
}

sub loaded_lines {
    return () = slurp("$root/logs/error.log")
                =~ /upbot: loaded $n facts from "\S+upbot\.state", skipped 0 /g;
}

# with $gap (a stop and start), a request may find nothing listening, or
# its connection closed as the old nginx stops: no answer, but no other
sub no_1005 {
    my ($by, $all, $what, $gap) = @_;
    my $none = $gap ? $by->{'ret none'} // 0 : 0;

    cmp_ok($all, '>', 100, "$what: $all requests under load");
    is($by->{'ret 1005'} // 0, 0, "$what: no 1005")
        or diag(explain $by);
    is(($by->{'0 MISS'} // 0) + ($by->{'0 EXPIRED'} // 0), 0,
       "$what: no MISS, no EXPIRED: every code answered from facts at once")
        or diag(explain $by);
    is(($by->{'ret 0'} // 0) + $none, $all,
       "$what: every answer ret 0" . ($gap ? " ($none not answered in the "
                                             . "restart's gap)" : ''))
        or diag(explain $by);
}


# the codes warmed: each fetched once

my $master = start_nginx();

my %warm;
for my $code (@codes) {
    my ($ret) = ask($code);
    $warm{$ret}++;
}
is($warm{0} // 0, $n, "$n codes warmed through the mock") or diag(explain \%warm);

my %hit;
for my $code (@codes) {
    my ($ret, $cache) = ask($code);
    $hit{"$ret $cache"}++;
}
cmp_ok(($hit{'0 HIT'} // 0) + ($hit{'0 UPDATING'} // 0), '==', $n,
       '... and all of them answered from the cache') or diag(explain \%hit);

sleep 2.5;              # past ttl: whatever restarts must refresh them
truncate "$root/logs/calls.log", 0;


# 1. stop (QUIT) and start under load

load_start();
sleep 1;

kill 'QUIT', $master;
ok(wait_gone($master), 'the old nginx has exited');
like(slurp("$root/logs/error.log"),
     qr/\[notice\] .*upbot: wrote $n facts to "\S+\/logs\/upbot\.state" at exit/,
     'its master wrote the facts at exit');

$master = start_nginx();
is(loaded_lines(), 1, "the new one loaded the $n facts");

sleep 4;                # the refresh of the 60, at 20 a second
my ($by, $all) = load_stop();
no_1005($by, $all, 'stop and start', 1);

my ($calls, $most) = calls();
cmp_ok($calls, '>=', $rate, "the facts past ttl refreshed in the background "
                            . "($calls calls in 4 s)");
cmp_ok($most, '<=', $rate, "at most $rate calls in any second ($most)");
truncate "$root/logs/calls.log", 0;


# 2. a binary upgrade under load: USR2, then QUIT to the old master

load_start();
sleep 1;

my $old = $master;
kill 'USR2', $old;

for (1 .. 200) {
    last if -e "$root/logs/nginx.pid.oldbin"
            && slurp("$root/logs/nginx.pid") =~ /(\d+)/ && $1 != $old;
    sleep 0.025;
}

($master) = slurp("$root/logs/nginx.pid") =~ /(\d+)/;
isnt($master, $old, "a new master ($master) beside the old one ($old)");
is(loaded_lines(), 2, "... which loaded the $n facts the old workers wrote");

sleep 1;
kill 'QUIT', $old;
ok(wait_gone($old), 'the old master has exited');
my $gone = time;

sleep 3;
($by, $all) = load_stop();
no_1005($by, $all, 'binary upgrade');

my (undef, $both) = calls();
($calls, $most) = calls($gone);
cmp_ok($both, '<=', $rate, "while both ran, they paced their calls together "
                           . "(upbot.state.pace): at most $rate in any second "
                           . "($both)");
cmp_ok($most, '<=', $rate, "once the old one has gone, at most $rate calls "
                           . "in any second ($most)");


# 3. a reload under load keeps the zone, and loads nothing

load_start();
sleep 1;
kill 'HUP', $master;
sleep 2;
($by, $all) = load_stop();
no_1005($by, $all, 'reload');
is(loaded_lines(), 2, 'a reload loads nothing: the zone is kept');


# what the file holds: the 60 groups' facts, nothing secret

sleep 1.2;
my $bytes = slurp("$root/logs/upbot.state");
my $state = StateFile::decode($bytes);

ok($state, 'the state file is a whole file') or BAIL_OUT('no state file');
is(scalar @{ $state->{entries} }, $n, "$n entries");
is_deeply([sort map { $_->{key} } @{ $state->{entries} }],
          [sort map { "tim:prod \@TGS#$_" } @codes], 'one for each group');
is_deeply([sort map { $_->{name} } @{ $state->{entries} }], [sort @codes],
          'with the names the provider gave');
cmp_ok(abs($state->{written} - StateFile::now_ms()), '<', 3000,
       'written within the last seconds');
unlike($bytes, qr/tim-secret-key|t0k3n|usersig|1400000000|admin/i,
       'no key, token, UserSig or app id in it');
kill 'QUIT', $master;
ok(wait_gone($master), 'nginx has exited');

ok(!glob("$root/logs/upbot.state.tmp-*"), 'no temporary file left');

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

done_testing();
