# Each worker reads the clock once an event loop turn; with
# "timer_resolution 1s", once a second.  So the time a worker stores with a
# group's facts may be ahead of another worker's now: those facts are a
# moment old there, not past ttl + stale.  A cold code is fetched once,
# then asked for again and again on new connections, which reuseport
# spreads over four workers: every answer is a HIT, and the provider is
# called once.  (Before, a worker behind the one that fetched took the
# facts for expired: EXPIRED, and a call in front of the client; seen
# under load, once in a CI run.)  A plain Test::More test: Test::Nginx's
# data format has no workers of its own.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use MockIM;
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 20;
my $root = File::Spec->rel2abs("t/servroot-clocks");
my @codes = map { "k$_" } 1 .. 5;

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'k', identifier => 'admin' } },
             groups => { map { ("\@TGS#$_" => { Name => $_, MemberNum => 1,
                                                MaxMemberNum => 200 }) }
                         @codes } },
});

my $mock = $MockIM::Port;
my $rows = join '', map { "        $_  tim:prod  \@TGS#$_;\n" } @codes;

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

write_file("$root/conf/nginx.conf",
           nginx_conf(root => $root, port => $port,
                      main => "timer_resolution  1s;\n",
                      http => <<"_EOH_", server => <<"_EOS_"));
    upbot_zone         upbot:1m;
    upbot_cache        ttl=10m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k
                     location=/_upbot/tim;
    upbot_codes {
$rows    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Cache \$upbot_cache_status always;
            add_header X-Pid \$pid always;
        }

        location = /_upbot/tim {
            internal;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
        }
_EOS_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");

sub ask {
    my $code = shift;
    my $resp = post_media_info($port,
        '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
        . "\"media_type\":2,\"code\":\"$code\",\"trace_id\":\"t\"}");
    my ($ret) = $resp =~ /"ret":(\d+)/;
    my ($cache) = $resp =~ /^X-Cache: (\w*)\r$/m;
    my ($pid) = $resp =~ /^X-Pid: (\d+)\r$/m;
    return ('ret ' . ($ret // 'none') . ' ' . ($cache // '-'), $pid);
}

MockIM::reset();

my (%first, %after, %pids);

for my $code (@codes) {
    my ($seen) = ask($code);
    $first{$seen}++;

    # at once, on new connections: other workers, whose clock is up to a
    # second behind the one that fetched
    for (1 .. 12) {
        my ($again, $pid) = ask($code);
        $after{$again}++;
        $pids{$pid // '-'} = 1;
    }
}

is($first{'ret 0 MISS'} // 0, scalar @codes,
   'each cold code fetched in front of its first request')
    or diag(explain \%first);
is($after{'ret 0 HIT'} // 0, 12 * @codes,
   'then every answer a HIT, whichever worker gave it')
    or diag(explain \%after);
cmp_ok(scalar keys %pids, '>', 1,
       'the answers came from ' . (scalar keys %pids) . ' workers');
is(scalar MockIM::calls(provider => 'tim'), scalar @codes,
   'one call a code');

kill 'QUIT', $master;

for (1 .. 200) {
    last unless kill 0, $master;
    sleep 0.025;
}

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

done_testing();
