# The story of a request that waits for another's provider call, in a
# --with-debug error log: one worker; A claims the cold pool and calls the
# (slow) provider, B comes meanwhile, waits, and is woken by the end of A's
# call, not by a timer; then C finds the facts fresh in the zone and D picks
# from the worker's view.  A plain Test::More test: Test::Nginx's data
# format has no concurrent clients.  Skipped unless nginx is built
# --with-debug (Debian's nginx and the matrix's builds are).

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

plan(skip_all => "$nginx is not built --with-debug")
    if `$nginx -V 2>&1` !~ /--with-debug/;

my $port = base_port() + 7;
my $root = File::Spec->rel2abs("t/servroot-debug");

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'k', identifier => 'admin' } },
             groups => {
                 '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200 },
                 '@TGS#a' => { Name => 'A', MemberNum => 5, MaxMemberNum => 200 },
             } },
});

my $mock = $MockIM::Port;
my $modules = main_prelude();

remove_tree($root);
make_path("$root/conf", "$root/logs");

write_file("$root/conf/tokens", "t0k3n\n");
write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  1;
daemon            on;
master_process    on;
error_log         logs/error.log debug;
pid               logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log  off;
    client_body_temp_path  $root/body;
    proxy_temp_path        $root/proxy;

    upbot_zone         upbot:1m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k
                     location=/_upbot/tim;
    upbot_codes {
        c1  tim:prod  \@TGS#full;
        c1  tim:prod  \@TGS#a;
    }

    server {
        listen  127.0.0.1:$port;

        location = /m {
            upbot_get_media_info;
            add_header X-Cache \$upbot_cache_status always;
        }

        location = /_upbot/tim {
            internal;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
        }
    }
}
_EOC_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");

MockIM::fault(provider => 'tim', mode => 'delay', ms => 600);

my ($a, $b) = map { $_->{answer} }
              post_side_by_side($port, [body(), 0], [body(), 0.2]);

like($a, qr/^X-Cache: MISS\r$/m, 'A fetched (MISS)');
like($b, qr/^X-Cache: MISS\r$/m, 'B waited for it (MISS)');
like($b, qr/"url":"","name":"A"/, 'B has the facts A fetched');
is(scalar(MockIM::calls()), 1, 'one provider call');

like(request(), qr/^X-Cache: HIT\r$/m, 'C: a hit, from the zone');
like(request(), qr/^X-Cache: HIT\r$/m, 'D: a hit, from the view');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

my @log = map { s/^.*? \*\d+ //r } grep { /upbot: / } split /\n/, slurp("$root/logs/error.log");

sub at {
    my $re = shift;
    for my $i (0 .. $#log) { return $i if $log[$i] =~ $re }
    return -1;
}

my $claimed = at(qr/^upbot: claimed group "tim:prod \@TGS#a"/);
my $busy = at(qr/^upbot: group "tim:prod \@TGS#full" is being fetched by another request/);
my $waiting = at(qr/^upbot: code "c1" waiting, 100 ms at most/);
my $applied = at(qr/^upbot: group "tim:prod \@TGS#a" applied/);
my $woken = at(qr/^upbot: code "c1" woken: a call of this worker ended/);
my $fresh = at(qr/^upbot: looked at 2 of 2 groups of code "c1": 0 to fetch, blocked:0 fresh:1/);
my $view = at(qr/^upbot: view of code "c1": 2 of 2 groups/);

cmp_ok($claimed, '>=', 0, 'A claims the groups');
cmp_ok($busy, '>', $claimed, 'B finds them being fetched');
cmp_ok($waiting, '>', $busy, 'B waits, polling every 100 ms at most');
cmp_ok($applied, '>', $waiting, 'A\'s call ends and its groups are applied');
cmp_ok($woken, '>', $applied, 'B is woken by the end of A\'s call')
    or diag(join "\n", @log);
is(at(qr/woken: (the zone changed|the lock expired)/), -1,
   'and not by a poll');
cmp_ok($fresh, '>', $woken, 'C finds the facts fresh in the zone');
cmp_ok($view, '>', $fresh, 'D picks from the worker\'s view');

done_testing();


sub request {
    return post_media_info($port, body());
}


sub body {
    return '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
           . '"media_type":2,"code":"c1","trace_id":"t-wait"}';
}
