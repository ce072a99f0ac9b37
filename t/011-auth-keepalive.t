# A keep-alive connection's token is remembered with the connection: the
# same token again is let in without hashing, any other token is checked
# as on a new connection, and a token is remembered with its tokens file,
# so a location with another file does not take it.  A plain Test::More
# test: Test::Nginx's data format sends each request on a new connection.
use strict;
use warnings;

use lib 't/lib';
use NginxMain;
use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use File::Spec;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 5;
my $root = File::Spec->rel2abs("t/servroot-keepalive");

remove_tree($root);
make_path("$root/conf", "$root/logs");

write_file("$root/conf/tokens",
           "t0k3n  first\nsecond-token-of-forty-bytes-0123456789ab  second\n"
           . ('L' x 200) . "  long\n");
write_file("$root/conf/other", "other-token  other\n");

my $modules = main_prelude();

write_file("$root/conf/nginx.conf", <<"_EOC_");
$modules
worker_processes  1;
daemon            on;
master_process    on;
error_log         logs/error.log info;
pid               logs/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log         off;
    upbot_auth_tokens  tokens;
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 name=G1;
    }

    server {
        listen  127.0.0.1:$port;
        keepalive_requests  1000;

        location = /m {
            upbot_get_media_info;
            add_header X-Label \$upbot_token_label always;
        }

        location = /other {
            upbot_auth_tokens  other;
            upbot_get_media_info;
            add_header X-Label \$upbot_token_label always;
        }
    }
}
_EOC_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master;
for (1 .. 100) {
    if (open my $p, '<', "$root/logs/nginx.pid") {
        my $pid = <$p>;
        if (defined $pid && $pid =~ /(\d+)/) { $master = $1; last }
    }
    sleep 0.05;
}
BAIL_OUT("no pid file") unless $master;

my $body = '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
           . '"media_type":2,"code":"c1","trace_id":"t-keepalive"}';

my $conn;
for (1 .. 100) {
    $conn = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10);
    last if $conn;
    sleep 0.05;
}
BAIL_OUT("cannot connect") unless $conn;

# one request on the kept-alive connection: status and label
sub ask {
    my ($path, $token) = @_;
    print $conn "POST $path HTTP/1.1\r\nHost: localhost\r\n"
                . "Content-Type: application/json\r\n"
                . (defined $token ? "Authorization: $token\r\n" : '')
                . "Content-Length: " . length($body) . "\r\n\r\n" . $body;

    my $head = '';
    while ($head !~ /\r\n\r\n\z/) {
        my $n = sysread($conn, my $c, 1);
        return ('closed', '') unless $n;
        $head .= $c;
    }

    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my ($len) = $head =~ /^Content-Length: (\d+)/mi;
    my ($label) = $head =~ /^X-Label: ([^\r]*)/mi;
    my $got = '';
    while (length $got < ($len // 0)) {
        my $n = sysread($conn, my $c, $len - length $got);
        last unless $n;
        $got .= $c;
    }
    my ($ret) = $got =~ /"ret":(\d+)/;
    return ("$status $ret", $label // '');
}

my @steps = (
    ['/m', 't0k3n', '200 0', 'first', 'a good token'],
    ['/m', 't0k3n', '200 0', 'first', 'the same token again'],
    ['/m', 't0k3n-x', '401 1002', '', 'a longer token after it'],
    ['/m', 't0k3m', '401 1002', '', 'a token of the same length, one byte off'],
    ['/m', 'Bearer t0k3n', '200 0', 'first', 'the token again, as Bearer'],
    ['/m', undef, '401 1002', '', 'no Authorization after a good one'],
    ['/other', 't0k3n', '401 1002', '', 'the token at a location with another file'],
    ['/other', 'other-token', '200 0', 'other', "that location's token"],
    ['/m', 'other-token', '401 1002', '', "and that token back at the first location"],
    ['/m', 'second-token-of-forty-bytes-0123456789ab', '200 0', 'second',
     'another good token on the same connection'],
    ['/m', 'second-token-of-forty-bytes-0123456789ab', '200 0', 'second',
     'and again'],
    ['/m', 't0k3n', '200 0', 'first', 'the first token back'],
    ['/m', 'L' x 200, '200 0', 'long', 'a token too long to remember'],
    ['/m', 'L' x 200, '200 0', 'long', 'is checked again'],
    ['/m', 'L' x 199, '401 1002', '', 'and a prefix of it is refused'],
);

for my $s (@steps) {
    my ($path, $token, $want, $label, $what) = @$s;
    my ($got, $got_label) = ask($path, $token);
    is("$got $got_label", "$want $label", $what);
}

# every step went over the one connection
my $err = do { local $/; open my $e, '<', "$root/logs/error.log" or die $!; <$e> };
my @connections = $err =~ /\*(\d+) upbot/g;
my %seen = map { $_ => 1 } @connections;
is(scalar keys %seen, 1, 'all on one connection');
unlike($err, qr/t0k3n|other-token|second-token|LLLL/, 'no token in the error log');
unlike($err, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');

close $conn;
kill 'QUIT', $master;
for (1 .. 100) {
    last unless kill 0, $master;
    sleep 0.05;
}

done_testing();
