# An event line's client_addr is nginx's text of the client's address.
# An IPv4 or IPv6 address needs no escaping, and is copied as it is; a
# client of a unix socket is "unix:" and the path it is bound to, which may
# hold any byte: escaped, so that the line stays one JSON object.  A plain
# Test::More test: Test::Nginx's clients speak TCP only.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::UNIX;
use JSON::PP;
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(sleep);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 21;
my $root = File::Spec->rel2abs("t/servroot-unix");
my $server = "$root/s.sock";

remove_tree($root);
make_path("$root/conf", "$root/logs");
write_file("$root/conf/tokens", "t0k3n\n");

write_file("$root/conf/nginx.conf",
           nginx_conf(root => $root, port => $port, workers => 1,
                      http => <<"_EOH_", server => <<"_EOS_"));
    upbot_auth_tokens  tokens;
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1;
    }
_EOH_
        listen  unix:$server;

        location = /e {
            upbot_report_media_event;
            upbot_event_log  logs/events.jsonl;
        }
_EOS_

is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0, 'nginx starts')
    or BAIL_OUT("cannot start nginx");

my $master = wait_for_pid("$root/logs/nginx.pid");
for (1 .. 100) { last if -S $server; sleep 0.05 }

my $body = '{"head":{"account_info":{"account_type":2,"appid":"a",'
           . '"openid":"o"}},"items":[{"event_id":"1","code":"c1"}]}';

# a batch from a client bound to $path ('' for none); the answer
sub post_from {
    my ($path) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
                                  ($path ne '' ? (Local => $path) : ()),
                                  Peer => $server)
        or die "connect $server: $!";
    print $s "POST /e HTTP/1.0\r\nHost: localhost\r\n"
           . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
    local $/;
    return <$s> // '';
}

my $quoted = "$root/c\"\\q.sock";

like(post_from($quoted), qr/\A HTTP\/1\.1\ 200 .* \{"ret":0,"msg":""\}\z/xs,
     'a client bound to a path with a quote and a backslash: accepted');
like(post_from(''), qr/\A HTTP\/1\.1\ 200 .* \{"ret":0,"msg":""\}\z/xs,
     'an unbound client: accepted');

my @lines = split /\n/, slurp("$root/logs/events.jsonl");
is(scalar @lines, 2, 'two lines');

my @addr = map { scalar eval { decode_json($_)->{client_addr} } } @lines;

is($addr[0], "unix:$quoted", 'the first is JSON, its client_addr the '
                             . 'path as it is once decoded')
    or diag($lines[0]);
like($lines[0], qr/"client_addr":"unix:[^"]*c\\"\\\\q\.sock"/,
     '... its quote and backslash escaped');
is($addr[1], 'unix:', 'the unbound client is "unix:"') or diag($lines[1]);

unlike(slurp("$root/logs/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no alert in the error log');

kill 'QUIT', $master;
for (1 .. 100) { last unless kill 0, $master; sleep 0.05 }

done_testing();
