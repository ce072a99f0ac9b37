# The UserSig nginx makes, checked against a known answer: with the wall
# clock fixed (t/lib/fixtime.c, LD_PRELOAD) at 1700000000, the TLS.sig of
# identifier "admin", sdkappid 1400000000, expire 86400 and key
# "tim-test-key" must be the HMAC-SHA256 that OpenSSL's command line gives:
#
#   printf 'TLS.identifier:admin\nTLS.sdkappid:1400000000\nTLS.time:1700000000\nTLS.expire:86400\n' \
#       | openssl dgst -sha256 -hmac tim-test-key -binary | base64
#
# The test also decodes the UserSig itself (the base64 variant, zlib, JSON)
# and recomputes the HMAC.  The mock, whose clock is not fixed, refuses the
# UserSig as expired, and the client gets 1005.  Then the clock moves: the
# UserSig is reused until half its lifetime has passed, then remade.

use strict;
use warnings;

use lib 't/lib';
use NginxMain;

use Compress::Zlib ();
use Digest::SHA qw(hmac_sha256_base64);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use MockIM;
use Test::More;
use Time::HiRes qw(sleep);

my $known = 'd+M7VUMnY8Nvn/2D/cdxPNZK5kDZrn79nOSjHwfM4NU=';

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = base_port() + 4;
my $root = File::Spec->rel2abs("t/servroot-usersig");

remove_tree($root);
make_path("$root/conf", "$root/logs");

my $cc = $ENV{CC} || 'cc';

is(system($cc, '-shared', '-fPIC', '-o', "$root/fixtime.so", 't/lib/fixtime.c'),
   0, 'the clock shim builds') or BAIL_OUT("cannot build t/lib/fixtime.c");

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => { '@TGS#a' => { Name => 'A', MemberNum => 1, MaxMemberNum => 200 } } },
});

my $mock = $MockIM::Port;
my $modules = main_prelude();

open my $fh, '>', "$root/conf/tokens" or die $!;
print $fh "t0k3n\n";
close $fh;

open $fh, '>', "$root/conf/nginx.conf" or die $!;
print $fh <<"_EOC_";
$modules
env               FIXTIME_FILE;
daemon            on;
master_process    off;
error_log         logs/error.log info;
pid               logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log  off;
    client_body_temp_path  $root/body;
    proxy_temp_path        $root/proxy;
    upbot_zone  upbot:1m;
    upbot_auth_tokens  tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim expire=1d;
    upbot_codes {
        c1  tim:prod  \@TGS#a;
    }
    server {
        listen  127.0.0.1:$port;
        location = /m { upbot_get_media_info; }
        location = /_upbot/tim {
            internal;
            proxy_pass http://127.0.0.1:$mock/v4/group_open_http_svc/get_group_info\$is_args\$args;
        }
    }
}
_EOC_
close $fh;

set_clock(1700000000);

{
    local $ENV{LD_PRELOAD} = "$root/fixtime.so";
    local $ENV{FIXTIME_FILE} = "$root/clock";
    is(system($nginx, '-p', "$root/", '-c', 'conf/nginx.conf'), 0,
       'nginx starts with its clock at 1700000000');
}

my $resp = request('{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
                   . '"media_type":2,"code":"c1","trace_id":"t-kat"}');

like($resp, qr{^HTTP/1\.1 502}, 'the provider refuses an expired UserSig: 502');
like($resp, qr/"ret":1005/, 'and the client gets 1005');

my @calls = MockIM::calls(provider => 'tim');
is(scalar @calls, 1, 'one call');

my $sig = $calls[0]{query}{usersig} // '';
like($sig, qr/^[A-Za-z0-9*_-]+$/, 'the UserSig uses the base64 variant alphabet');

(my $b64 = $sig) =~ tr{*\-_}{+/=};
my $text = Compress::Zlib::uncompress(decode_base64($b64));
ok(defined $text, 'it inflates');

my $doc = eval { JSON::PP->new->decode($text // '') } // {};

is($doc->{'TLS.ver'}, '2.0', 'TLS.ver');
is($doc->{'TLS.identifier'}, 'admin', 'TLS.identifier');
is($doc->{'TLS.sdkappid'}, 1400000000, 'TLS.sdkappid');
like($text // '', qr/"TLS\.sdkappid":1400000000[,}]/, 'TLS.sdkappid is a number');
is($doc->{'TLS.time'}, 1700000000, 'TLS.time is the clock');
is($doc->{'TLS.expire'}, 86400, 'TLS.expire is expire=1d');
is($doc->{'TLS.sig'}, $known, 'TLS.sig is the known answer');

my $again = hmac_sha256_base64("TLS.identifier:admin\nTLS.sdkappid:1400000000\n"
                               . "TLS.time:1700000000\nTLS.expire:86400\n",
                               'tim-test-key');
$again .= '=' x ((4 - length($again) % 4) % 4);
is($doc->{'TLS.sig'}, $again, 'and the HMAC recomputed here');

like($calls[0]{result}, qr/^70001 /, 'the mock found it expired, not forged');

like(slurp("$root/logs/error.log"),
     qr/upbot: tim:prod: the provider refused the call: provider error 70001/,
     'the refusal is logged with the provider\'s code');


# the clock moves on: an hour later the same UserSig, half a day later a new

is(usersig_time_at(1700003600), 1700000000, 'an hour later: the same UserSig');
is(usersig_time_at(1700043199), 1700000000, 'just before half its lifetime: the same');
is(usersig_time_at(1700043200), 1700043200, 'at half its lifetime: a new UserSig');
is(usersig_time_at(1700050000), 1700043200, 'which is then reused');

my $pid = slurp("$root/logs/nginx.pid");
kill 'QUIT', $1 if $pid =~ /(\d+)/;

done_testing();


sub set_clock {
    open my $out, '>', "$root/clock.new" or die $!;
    print $out shift;
    close $out;
    rename "$root/clock.new", "$root/clock" or die $!;
}


# TLS.time of the UserSig of a call made with the clock at $t
sub usersig_time_at {
    my $t = shift;

    set_clock($t);
    MockIM::reset();
    sleep 1.1;        # past "retry" (1s) of the call that failed before

    request('{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
            . '"media_type":2,"code":"c1","trace_id":"t-kat"}');

    my ($call) = MockIM::calls(provider => 'tim');
    my $sig = $call ? $call->{query}{usersig} // '' : '';
    (my $b64 = $sig) =~ tr{*\-_}{+/=};
    my $text = Compress::Zlib::uncompress(decode_base64($b64)) // '{}';
    my $doc = eval { JSON::PP->new->decode($text) } // {};

    return $doc->{'TLS.time'} // 'none';
}


sub request {
    my $body = shift;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10);

    for (1 .. 50) {
        last if $s;
        sleep 0.05;
        $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                   PeerPort => $port, Timeout => 10);
    }

    return "connect: $!" unless $s;

    print $s "POST /m HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";

    local $/;
    return <$s> // '';
}
