# A deadline on every provider call (timeout= on the app): a provider that
# trickles its answer, or hangs, is given up at the deadline, however slow
# each read is, and the requests waiting for it, in every worker, end
# within the deadline and a margin; no second call is made for the same
# groups while the first is alive.  A plain Test::More test: Test::Nginx's
# data format has no concurrent clients.

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
my $port = base_port() + 11;
my $root = File::Spec->rel2abs("t/servroot-deadline");

# the deadline, and the margin a waiter may take beyond it: a poll (100 ms)
# and a loaded machine
my $deadline = 1;
my $margin = 0.6;

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'k', identifier => 'admin' } },
             groups => {
                 '@TGS#a' => { Name => 'A', MemberNum => 5, MaxMemberNum => 200 },
                 '@TGS#b' => { Name => 'B', MemberNum => 5, MaxMemberNum => 200 },
             } },
});

my $mock = $MockIM::Port;
my $modules = main_prelude();

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
    worker_connections  64;
}

http {
    access_log  off;
    client_body_temp_path  $root/body;
    proxy_temp_path        $root/proxy;

    upbot_zone         upbot:1m;
    upbot_cache        ttl=60s retry=1s;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k
                     location=/_upbot/tim timeout=${deadline}s;
    upbot_codes {
        trickle  tim:prod  \@TGS#a;
        hang     tim:prod  \@TGS#b;
    }

    server {
        listen  127.0.0.1:$port reuseport;

        location = /m {
            upbot_get_media_info;
            add_header X-Cache \$upbot_cache_status always;
        }

        location = /_upbot/tim {
            internal;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
            proxy_read_timeout 5s;
        }
    }
}
_EOC_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");

# 16 bytes every 0.25 s: each read well within proxy_read_timeout, the
# whole answer far beyond the deadline
MockIM::fault(provider => 'tim', mode => 'slow', chunk => 16, every_ms => 250);

my @res = staggered(['trickle', 0], ['trickle', 0.3], ['trickle', 0.3],
                    ['trickle', 0.6]);

for my $i (0 .. $#res) {
    like($res[$i]{body}, qr/^\{"ret":1005,/, "trickle: request $i answers 1005");
    is($res[$i]{status}, 504, "trickle: request $i with 504");
    cmp_ok($res[$i]{end}, '<', $deadline + $margin,
           "trickle: request $i ends within the deadline ("
           . sprintf('%.2f', $res[$i]{end}) . " s after the first began)");
}

is(scalar(MockIM::calls()), 1, 'trickle: one call, given up, and no second');

like(slurp("$root/logs/error.log"),
     qr/upbot: tim:prod: the call was given up: no answer within 1000 ms \(groups: 1\)/,
     'the error log says why');

# a provider that accepts and says nothing
MockIM::reset();
MockIM::fault(provider => 'tim', mode => 'hang');

@res = staggered(['hang', 0], ['hang', 0.2]);

for my $i (0 .. $#res) {
    is($res[$i]{status}, 504, "hang: request $i answers 504");
    cmp_ok($res[$i]{end}, '<', $deadline + $margin,
           "hang: request $i ends within the deadline ("
           . sprintf('%.2f', $res[$i]{end}) . " s)");
}

is(scalar(MockIM::calls()), 1, 'hang: one call');

# after "retry", a provider that answers again is asked again
MockIM::reset();
sleep 1.1;

@res = staggered(['hang', 0]);
like($res[0]{body}, qr/"name":"B"/, 'after retry, the facts come');

unlike(slurp("$root/logs/error.log"), qr/\[(alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();


# [code, seconds after the start] each; status, body, and when each ended,
# in seconds after the start
sub staggered {
    my @specs = map { ['{"account_info":{"account_type":2,"appid":"a",'
                       . '"openid":"o"},"media_type":2,'
                       . "\"code\":\"$_->[0]\",\"trace_id\":\"t-dl\"}", $_->[1]] } @_;

    return map {
        my ($status) = $_->{answer} =~ m{^HTTP/1\.1 (\d+)};
        my ($b) = $_->{answer} =~ /\r\n\r\n(.*)\z/s;
        { status => $status // 0, body => $b // '', end => $_->{end} };
    } post_side_by_side($port, @specs);
}
