# GetMediaInfo on NetEase Yunxin IM teams, against util/mock-im.pl, which
# checks each call as Yunxin does (AppKey, Nonce, CurTime within 5
# minutes, CheckSum, team_type).

use lib 't/lib';
use MockIM;
use Test::Nginx::Socket 'no_plan';

log_level('info');

MockIM::start(fixtures => {
    yunxin => {
        apps => { AK1 => { secret => 'yx-test-secret' } },
        teams => {
            17889 => { team_type => 1, name => '云信群', icon => 'https://img.example.com/yx.png',
                       members_limit => 1000, member_count => 12,
                       server_extension => '{"url":"https://join.example.com/yx","other":1}' },
            17890 => { team_type => 1, style => 'flat', name => 'flat team', icon => undef,
                       members_limit => 200, member_count => 3,
                       server_extension => '{"url":"https://join.example.com/flat"}' },
            17891 => { team_type => 2, name => 'super', members_limit => 2000,
                       member_count => 2000, server_extension => '' },
            17892 => { team_type => 1, name => 'no count', members_limit => 200,
                       server_extension => 'not json' },
            'a b#c' => { team_type => 1, name => 'odd id', members_limit => 200,
                         member_count => 1 },
            500500 => { code => 500 },
            414414 => { code => 414 },
        },
    },
    tim => {
        apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
        groups => {
            '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200 },
            '@TGS#a' => { Name => 'TIM A', FaceUrl => 'https://img.example.com/a.png',
                          MemberNum => 5, MaxMemberNum => 200,
                          AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/a' }] },
        },
    },
});

sub req {
    my $code = shift;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-yx\\r\\nX-Evil: 1\"}";
}

sub ok_body {
    my ($url, $name, $bg) = @_;
    return qr/^\Q{"ret":0,"msg":"","data":{"url":"$url","name":"$name","background":"$bg"}}\E$/;
}

our $Failed = qr/^\Q{"ret":1005,"msg":"服务繁忙，请稍后再试"}\E$/;

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n>>> yx.secret\nyx-test-secret\n")
        unless defined $block->user_files;

    my $cache = $block->cache // 'ttl=60s';

    $block->set_value("http_config", <<"_EOC_") unless defined $block->http_config;
    upbot_zone  upbot:1m;
    upbot_cache  $cache;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_yunxin  cn  appkey=AK1 secret_file=\$TEST_NGINX_SERVER_ROOT/html/yx.secret
                      location=/_upbot/yunxin/;
    upbot_yunxin  bad  appkey=AK1 secret=wrong-secret location=/_upbot/yunxin/;
    upbot_yunxin  dead  appkey=AK1 secret=yx-test-secret location=/_upbot/dead/;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;

    upbot_codes {
        y1  yunxin:cn  17889/1;
        y2  yunxin:cn  17890/1;
        y3  yunxin:cn  17891/2;
        y3  yunxin:cn  17889/1;
        y4  yunxin:cn  17892/1;
        y5  yunxin:cn  404404/1;
        y5  yunxin:cn  17889/2;
        y5  yunxin:cn  17890/1;
        y6  yunxin:cn  500500/1;
        y7  yunxin:cn  "a b#c/1";
        y8  yunxin:bad  17889/1;
        y9  yunxin:cn  414414/1;
        y9  yunxin:cn  17889/1  threshold=12;

        yd  yunxin:dead  17889/1;

        ym  tim:prod  \@TGS#full;
        ym  yunxin:cn  17889/1;

        yn  tim:prod  \@TGS#a  threshold=6;
        yn  yunxin:cn  17890/1;
        yn  tim:prod  \@TGS#full;
        yn  yunxin:cn  17889/1;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Group $upbot_group always;
    }

    location /_upbot/yunxin/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/im/v2.1/teams/;
        proxy_read_timeout 1s;
    }

    location /_upbot/dead/ {
        internal;
        proxy_pass http://127.0.0.1:1/im/v2.1/teams/;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
        proxy_read_timeout 1s;
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
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a team under data.team_info: name, icon, url from server_extension; then a hit
--- request eval
[main::req("y1"), main::req("y1")]
--- response_body_like eval
[main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png")]
--- response_headers eval
["X-Cache: MISS\nX-Group: 17889", "X-Cache: HIT\nX-Group: 17889"]
--- no_error_log
[error]
yx-test-secret



=== TEST 2: the call is what Yunxin expects: GET, team_type, AppKey, Nonce, CurTime, CheckSum, a safe trace id
--- request eval
[main::req("y1"), "GET /calls"]
--- response_body_like eval
[qr/"ret":0/,
 qr/\A\{"body":"","headers":\{"appkey":"AK1","checksum":"[0-9a-f]{40}","curtime":"\d{10}","host":"127\.0\.0\.1:\d+","nonce":"[0-9a-f]{32}","x-custom-traceid":"t-yx\?\?X-Evil: 1"\},"method":"GET","path":"\/im\/v2\.1\/teams\/17889","provider":"yunxin","query":\{"team_type":"1"\},"result":"ok","team_id":"17889","time":[\d.]+\}\n\z/]



=== TEST 3: a team straight in data, with a null icon
--- request eval
main::req("y2")
--- response_body_like eval
main::ok_body("https://join.example.com/flat", "flat team", "")



=== TEST 4: a full super team is skipped
--- request eval
main::req("y3")
--- response_body_like eval
main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png")
--- response_headers
X-Group: 17889



=== TEST 5: no member count, a server_extension that is not JSON
--- request eval
main::req("y4")
--- response_body_like eval
main::ok_body("", "no count", "")



=== TEST 6: gone (108404) and not an advanced team (108302) are skipped
--- request eval
main::req("y5")
--- response_body_like eval
main::ok_body("https://join.example.com/flat", "flat team", "")
--- response_headers
X-Group: 17890



=== TEST 7: a team id with a space and a hash goes escaped in the path
--- request eval
[main::req("y7"), "GET /calls"]
--- response_body_like eval
[main::ok_body("", "odd id", ""), qr/"path":"\/im\/v2\.1\/teams\/a%20b%23c"/]



=== TEST 8: a wrong secret: Yunxin's 414, a provider failure
--- request eval
main::req("y8")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log eval
qr/upbot: yunxin:bad: the provider refused the call: provider error 414 "checksum error" \(groups: 1\), trace id "t-yx\?\?X-Evil: 1"/
--- no_error_log
wrong-secret



=== TEST 9: Yunxin's 500 for a team
--- request eval
main::req("y6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 500



=== TEST 10: one team failed, the other is full: the failure is what the client hears
--- request eval
main::req("y9")
--- response_body_like eval
$::Failed
--- error_code: 502
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 414



=== TEST 11: rate limited (416) for every call
--- mock_fault
{"provider":"yunxin","mode":"error","code":416}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 416 "injected error 416"



=== TEST 12: HTTP 503
--- mock_fault
{"provider":"yunxin","mode":"http503"}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the call failed: HTTP 503



=== TEST 13: no answer in time: 504
--- mock_fault
{"provider":"yunxin","mode":"hang"}
--- request eval
main::req("y1")
--- error_code: 504
--- response_body_like eval
$::Failed
--- timeout: 5



=== TEST 14: garbage
--- mock_fault
{"provider":"yunxin","mode":"garbage"}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the answer is not understood



=== TEST 15: closed without an answer
--- mock_fault
{"provider":"yunxin","mode":"close"}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed


=== TEST 16: Yunxin's code 414 for a team is a provider failure
--- mock_group
{"provider":"yunxin","id":"17889","code":414}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 414 "error 414" (groups: 1)


=== TEST 17: Yunxin's code 416 for a team is a provider failure
--- mock_group
{"provider":"yunxin","id":"17889","code":416}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 416 "error 416" (groups: 1)


=== TEST 18: Yunxin's code 500 for a team is a provider failure
--- mock_group
{"provider":"yunxin","id":"17889","code":500}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 500 "error 500" (groups: 1)


=== TEST 19: Yunxin's code 503 for a team is a provider failure
--- mock_group
{"provider":"yunxin","id":"17889","code":503}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 503 "error 503" (groups: 1)


=== TEST 20: Yunxin's code 108311 for a team is a provider failure
--- mock_group
{"provider":"yunxin","id":"17889","code":108311}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the provider refused the call: provider error 108311 "error 108311" (groups: 1)


=== TEST 21: a pool over both providers: Tencent's group is full, Yunxin's team answers; one call to each; then hits
--- request eval
[main::req("ym"), main::req("ym"), "GET /calls"]
--- response_body_like eval
[main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 qr/\A(?=[^\n]*"provider":"(?:tim|yunxin)"[^\n]*\n[^\n]*"provider":"(?:tim|yunxin)"[^\n]*\n\z)(?=[\s\S]*"provider":"tim")(?=[\s\S]*"provider":"yunxin")/]
--- response_headers eval
["X-Cache: MISS\nX-Group: 17889", "X-Cache: HIT\nX-Group: 17889", ""]
--- no_error_log
[error]



=== TEST 22: a pool over both providers switches as members join, from Tencent to Yunxin and back to Tencent (each refresh in the background: the request that starts it still sees the old facts)
--- cache: ttl=1s
--- request eval
[main::req("yn"),
 "POST /mock/group\n{\"provider\":\"tim\",\"id\":\"\@TGS#a\",\"MemberNum\":6}",
 "POST /mock/sleep\n{\"ms\":1100}",
 main::req("yn"), "POST /mock/sleep\n{\"ms\":300}", main::req("yn"),
 "POST /mock/group\n{\"provider\":\"yunxin\",\"id\":\"17890\",\"member_count\":200}",
 "POST /mock/group\n{\"provider\":\"tim\",\"id\":\"\@TGS#full\",\"MemberNum\":150}",
 "POST /mock/sleep\n{\"ms\":1100}",
 main::req("yn"), "POST /mock/sleep\n{\"ms\":300}", main::req("yn")]
--- response_body_like eval
[main::ok_body("https://join.example.com/a", "TIM A", "https://img.example.com/a.png"),
 qr/ok/, qr/ok/,
 main::ok_body("https://join.example.com/a", "TIM A", "https://img.example.com/a.png"),
 qr/ok/,
 main::ok_body("https://join.example.com/flat", "flat team", ""),
 qr/ok/, qr/ok/, qr/ok/,
 main::ok_body("https://join.example.com/flat", "flat team", ""),
 qr/ok/,
 main::ok_body("", "full", "")]
--- response_headers eval
["X-Group: \@TGS#a", "", "", "X-Cache: UPDATING\nX-Group: \@TGS#a", "", "X-Cache: HIT\nX-Group: 17890", "", "", "",
 "X-Cache: UPDATING\nX-Group: 17890", "", "X-Cache: HIT\nX-Group: \@TGS#full"]
--- no_error_log
[error]
--- timeout: 10



=== TEST 23: a pool over both providers rides out a Yunxin failure on stale facts
--- cache: ttl=1s stale=1m
--- request eval
[main::req("ym"),
 "POST /mock/fault\n{\"provider\":\"yunxin\",\"mode\":\"http503\"}",
 "POST /mock/sleep\n{\"ms\":1100}",
 main::req("ym"), "POST /mock/sleep\n{\"ms\":300}", main::req("ym"), "GET /error.log"]
--- response_body_like eval
[main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 qr/ok/, qr/ok/,
 main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 qr/ok/,
 main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png"),
 qr/upbot: yunxin:cn: the call failed: HTTP 503/]
--- response_headers eval
["X-Cache: MISS", "", "", "X-Cache: UPDATING", "", "X-Cache: STALE", ""]
--- timeout: 10



=== TEST 24: connection refused
--- request eval
main::req("yd")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:dead: the call failed



=== TEST 25: truncated JSON
--- mock_fault
{"provider":"yunxin","mode":"truncated"}
--- request eval
main::req("y1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: yunxin:cn: the answer is not understood



=== TEST 26: an answer trickling in 16-byte pieces
--- mock_fault
{"provider":"yunxin","mode":"slow","chunk":16,"every_ms":5}
--- request eval
main::req("y1")
--- response_body_like eval
main::ok_body("https://join.example.com/yx", "云信群", "https://img.example.com/yx.png")
--- no_error_log
[error]
