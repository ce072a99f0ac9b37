# The zone's visitors over four workers: a sticky visitor keeps its group
# whichever worker answers, and after a reload; when the zone fills with
# visitors, they are evicted (one warning a minute at most) and never a
# group's view count.  A plain Test::More test: Test::Nginx's data format
# has no reload in the middle of a test.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 13;
my $root = File::Spec->rel2abs("t/servroot-zone-full");

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

sub configure {
    my $gen = shift;

    write_file("$root/conf/nginx.conf",
               nginx_conf(root => $root, port => $port, gen => $gen,
                          http => <<"_EOH_", server => <<"_EOS_"));
    # the smallest zone: 8 pages
    upbot_zone         upbot:32k;
    upbot_sticky       ttl=1h;
    upbot_auth_tokens  tokens;
    upbot_codes {
        keep   static  g1  url=https://x/keep1 max_views=3;
        keep   static  g2  url=https://x/keep2;

        fill   static  f1  url=https://x/fill;

        count  static  c1  url=https://x/count1 max_views=50;
        count  static  c2  url=https://x/count2;
    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Pid \$pid always;
            add_header X-Pick \$upbot_pick always;
        }
_EOS_
}

sub visit {
    my ($code, $openid) = @_;
    my $a = post_media_info($port, '{"account_info":{"account_type":2,'
                            . "\"appid\":\"a\",\"openid\":\"$openid\"},"
                            . "\"media_type\":2,\"code\":\"$code\","
                            . '"trace_id":"t"}');
    my ($url) = $a =~ m{"url":"https://x/([^"]+)"};
    my ($pid) = $a =~ /^X-Pid: (\d+)\r$/m;
    my ($pick) = $a =~ /^X-Pick: (\w+)\r$/m;
    return { url => $url // '', pid => $pid // 0, pick => $pick // '' };
}


configure(1);

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");


# a visitor keeps g1 over 30 requests, whichever worker answers, taking
# one view of its three

my @v = map { visit('keep', 'visitor-1') } 1 .. 30;

is(scalar(grep { $_->{url} eq 'keep1' } @v), 30,
   'a visitor gets g1 30 times');
is(scalar(grep { $_->{pick} eq 'sticky' } @v), 29, '... 29 of them sticky');
my %pids = map { $_->{pid} => 1 } @v;
cmp_ok(scalar(keys %pids), '>=', 2,
       '... answered by ' . scalar(keys %pids) . ' workers');

is(visit('keep', 'visitor-2')->{url}, 'keep1',
   'g1 took one view for the first visitor: another visitor gets it');


# after a reload, the visitor still has g1

configure(2);
ok(reload_to($master, $port, 2), 'reloaded');

my $after = visit('keep', 'visitor-1');
is("$after->{url} $after->{pick}", 'keep1 sticky',
   'after the reload the visitor keeps g1');


# 600 visitors of 256 bytes each fill a zone of 32 KB many times over

my $filled = 0;
for my $i (1 .. 600) {
    $filled++ if visit('fill', "flood-$i")->{url} eq 'fill';
}

is($filled, 600, '600 new visitors answered while the zone evicts');

my $warns = () = slurp("$root/logs/error.log")
                 =~ /\[warn\].*upbot_zone is full: visitors' entries/g;
is($warns, 1, 'one warning for the evictions of this minute');


# the view counts are never evicted: max_views=50 still exact

my %got;
$got{ visit('count', "counted-$_")->{url} }++ for 1 .. 80;
is($got{count1} // 0, 50, 'after the flood, max_views=50 gives exactly 50');
is($got{count2} // 0, 30, '... and 30 for the next group');

is(visit('keep', 'visitor-3')->{url}, 'keep1',
   'g1 of "keep" kept its count too: 2 views taken of 3');
is(visit('keep', 'visitor-4')->{url}, 'keep2', '... and now it is full');

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();
