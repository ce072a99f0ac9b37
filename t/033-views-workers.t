# max_views= is exact across workers and kept across reloads: 200 requests
# at once over 4 workers against a group with max_views=50 give exactly 50
# answers naming it and 150 naming the next; a reload that edits other
# rows keeps the count; a new url for the group (a new QR code) starts it
# again.  A plain Test::More test: Test::Nginx's data format has no
# concurrent clients.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 12;
my $root = File::Spec->rel2abs("t/servroot-views");
my $master;

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

# generation $gen of the configuration: the rows of "live", and another
# code whose rows change between reloads
sub configure {
    my ($gen, $url, $other) = @_;

    write_file("$root/conf/nginx.conf",
               nginx_conf(root => $root, port => $port, gen => $gen,
                          http => <<"_EOH_", server => <<"_EOS_"));
    upbot_zone         upbot:1m;
    upbot_auth_tokens  tokens;
    upbot_codes {
        live   static  g1  url=$url max_views=50;
        live   static  g2  url=https://x/next;
$other
    }
_EOH_
        location = /m {
            upbot_get_media_info;
            add_header X-Pid \$pid always;
            add_header X-Views \$upbot_views always;
        }
_EOS_
}

# n GetMediaInfo at once: how many named each group, the views seen, and
# the workers that answered
sub burst {
    my $n = shift;
    my $body = '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
               . '"media_type":2,"code":"live","trace_id":"t"}';
    my (%groups, %views, %pids, $bad);

    for my $r (post_side_by_side($port, map { [$body, 0] } 1 .. $n)) {
        my $a = $r->{answer};
        if ($a =~ m{"url":"https://x/([^"]+)"}) {
            $groups{$1}++;
        } else {
            $bad++;
        }
        $views{$1}++ if $a =~ /^X-Views: (\d+)\r$/m;
        $pids{$1} = 1 if $a =~ /^X-Pid: (\d+)\r$/m;
    }

    return (\%groups, \%views, scalar(keys %pids), $bad // 0);
}

configure(1, 'https://x/qr1', '');

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

$master = wait_for_pid("$root/logs/nginx.pid");

my ($groups, $views, $workers, $bad) = burst(200);

is($bad, 0, '200 at once: every request answered with a group');
is($groups->{qr1} // 0, 50, '200 at once: exactly 50 answers name g1');
is($groups->{next} // 0, 150, '... and 150 name g2');
is(scalar(keys %$views), 50, '... each of g1\'s views 1 to 50 taken once')
    or diag(join ' ', sort { $a <=> $b } keys %$views);
ok(!(grep { $views->{$_} != 1 } keys %$views)
   && !(grep { !$views->{$_} } 1 .. 50), '... none twice')
    or diag(join ' ', map { "$_=$views->{$_}" } sort { $a <=> $b }
                      keys %$views);
cmp_ok($workers, '>=', 2, "... answered by $workers workers");


# a reload that edits another code's rows: g1 stays full
configure(2, 'https://x/qr1', "        other  static  o1  url=https://x/o1;");
ok(reload_to($master, $port, 2), 'reloaded with another row added');

($groups) = burst(20);
is($groups->{next} // 0, 20, 'after the reload, g1 is still full: 20 of 20 '
                              . 'name g2');


# a new url for g1: a new group, counted from zero
configure(3, 'https://x/qr2', "        other  static  o1  url=https://x/o1;");
ok(reload_to($master, $port, 3), 'reloaded with a new url for g1');

($groups, $views) = burst(80);
is($groups->{qr2} // 0, 50, 'with its new url, g1 is answered 50 times again');
is($groups->{next} // 0, 30, '... and g2 the other 30');


# back to the first url: its count was kept, so g1 is full at once
configure(4, 'https://x/qr1', '');
ok(reload_to($master, $port, 4), 'reloaded with the first url again');

($groups) = burst(10);
is($groups->{next} // 0, 10, 'the first url\'s count is still there');

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();
