# The facts cache: fresh for ttl, then refreshed; served stale while the
# provider fails, for up to ttl + stale; groups switch as members join;
# a zone too small for the pool is no error.  Pauses between requests are
# POST /mock/sleep, which the mock answers after that long.

use lib 't/lib';
use MockIM;
use Test::Nginx::Socket 'no_plan';

log_level('info');

our %Groups = (
    '@TGS#a' => { Name => 'A', MemberNum => 5, MaxMemberNum => 200,
                  AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/a' }] },
    '@TGS#b' => { Name => 'B', MemberNum => 189, MaxMemberNum => 2000,
                  AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/b' }] },
);

# 500 groups, all full but the last
for my $i (1 .. 500) {
    $Groups{sprintf '@TGS#z%03d', $i} = {
        Name => "z$i", MemberNum => $i < 500 ? 200 : 1, MaxMemberNum => 200 };
}

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => \%Groups },
});

our $Pool500 = join '', map { sprintf "        c500  tim:prod  \@TGS#z%03d;\n", $_ } 1 .. 500;

sub req {
    my $code = shift;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-cache\"}";
}

sub fault { "POST /mock/fault\n" . shift }
sub pause { "POST /mock/sleep\n{\"ms\":" . shift() . "}" }

our $A = qr/"url":"https:\/\/join\.example\.com\/a"/;
our $B = qr/"url":"https:\/\/join\.example\.com\/b"/;
our $Failed = qr/^\Q{"ret":1005,"msg":"服务繁忙，请稍后再试"}\E$/;

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    my $cache = $block->cache // "ttl=1s stale=60s retry=1s";
    my $zone = $block->zone // "1m";

    $block->set_value("user_files", ">>> tokens\nt0k3n\n");

    $block->set_value("http_config", <<"_EOC_");
    upbot_zone  upbot:$zone;
    upbot_cache  $cache;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_codes {
        c1  tim:prod  \@TGS#a;

        c3  tim:prod  \@TGS#b  threshold=190;
        c3  tim:prod  \@TGS#a;
$::Pool500
    }
_EOC_

    $block->set_value("config", <<'_EOC_');
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Group $upbot_group always;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
        proxy_read_timeout 5s;
    }

    # the error log so far, for blocks whose error comes after their first
    # request (Test::Nginx checks --- error_log after every request)
    location = /error.log {
        alias $TEST_NGINX_SERVER_ROOT/logs/error.log;
        default_type text/plain;
    }

    location = /calls {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/_mock/calls;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/_mock/;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: fresh for ttl, then one refresh, in the background: the request that starts it is answered from the stale facts at once (UPDATING)
--- request eval
[main::req("c1"), main::req("c1"), main::pause(1100), main::req("c1"), main::pause(300), main::req("c1"), "GET /calls"]
--- response_body_like eval
[$::A, $::A, qr/ok/, $::A, qr/ok/, $::A, qr/\A[^\n]*\n[^\n]*\n\z/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "X-Cache: UPDATING", "", "X-Cache: HIT", ""]



=== TEST 2: when a group reaches its threshold, the next refresh moves on (the request that starts it still sees the old facts)
--- request eval
[main::req("c3"),
 "POST /mock/group\n{\"provider\":\"tim\",\"id\":\"\@TGS#b\",\"MemberNum\":190}",
 main::req("c3"), main::pause(1100), main::req("c3"), main::pause(300), main::req("c3")]
--- response_body_like eval
[$::B, qr/ok/, $::B, qr/ok/, $::B, qr/ok/, $::A]
--- response_headers eval
["X-Group: \@TGS#b", "", "X-Cache: HIT\nX-Group: \@TGS#b", "", "X-Cache: UPDATING\nX-Group: \@TGS#b", "", "X-Cache: HIT\nX-Group: \@TGS#a"]



=== TEST 3: the provider fails after ttl: the old facts (UPDATING while the refresh runs, then STALE); not asked again for "retry"
--- request eval
[main::req("c1"), main::pause(1100), main::fault('{"provider":"tim","mode":"http500"}'),
 main::req("c1"), main::pause(300), main::req("c1"), main::req("c1"), "GET /calls", "GET /error.log"]
--- response_body_like eval
[$::A, qr/ok/, qr/ok/, $::A, qr/ok/, $::A, $::A, qr/\A[^\n]*\n[^\n]*"fault":"http500"[^\n]*\n\z/,
 qr/upbot: tim:prod: the call failed: HTTP 500 \(groups: 1\), trace id "t-cache"/]
--- response_headers eval
["X-Cache: MISS", "", "", "X-Cache: UPDATING", "", "X-Cache: STALE", "X-Cache: STALE", "", ""]



=== TEST 4: facts older than ttl + stale are not used: 1005
--- cache: ttl=1s stale=0s
--- request eval
[main::req("c1"), main::pause(1100), main::fault('{"provider":"tim","mode":"http500"}'), main::req("c1")]
--- response_body_like eval
[$::A, qr/ok/, qr/ok/, $::Failed]
--- error_code eval
[200, 200, 200, 502]



=== TEST 5: the provider is back after "retry": refreshed again, fresh facts again
--- request eval
[main::req("c1"), main::pause(1100), main::fault('{"provider":"tim","mode":"http500","count":1}'),
 main::req("c1"), main::pause(300), main::req("c1"), main::pause(1100), main::req("c1"), main::pause(300),
 main::req("c1"), "GET /calls"]
--- response_body_like eval
[$::A, qr/ok/, qr/ok/, $::A, qr/ok/, $::A, qr/ok/, $::A, qr/ok/, $::A,
 qr/\A[^\n]*\n[^\n]*"fault":"http500"[^\n]*\n[^\n]*"result":"ok"[^\n]*\n\z/]
--- response_headers eval
["X-Cache: MISS", "", "", "X-Cache: UPDATING", "", "X-Cache: STALE", "", "X-Cache: UPDATING", "", "X-Cache: HIT", ""]



=== TEST 6: a zone too small for a pool of 500 groups: still the right answer
--- zone: 32k
--- request eval
[main::req("c500"), main::req("c1"), main::req("c500")]
--- response_body_like eval
[qr/"name":"z500"/, $::A, qr/"name":"z500"/]
--- no_error_log
[error]
[alert]
[crit]
