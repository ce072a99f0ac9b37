# upbot_limit_visitor: a visitor (appid + openid) gets GetMediaInfo answers
# at the rate and a burst more at once, then 429/1008 at once; other
# visitors and the same openid of another app are not held back; an empty
# openid is 1001, never counted; unknown codes count too; the bucket drains
# at the rate; its mistakes.

use lib 't/lib';
use MediaInfo qw(req ans visit);
use Test::Nginx::Socket 'no_plan';

log_level('info');

# the same visitor's GetMediaInfo twice on one connection, pipelined: the
# error log of a refusal is checked with one request
sub twice {
    my ($openid) = @_;
    my $body = (main::req("c1", $openid) =~ s/^POST \/m\n//r);
    my $one = "POST /m HTTP/1.1\r\nHost: localhost\r\n"
              . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
              . "Content-Length: " . length($body) . "\r\n";
    return "$one\r\n$body" . "${one}Connection: close\r\n\r\n$body";
}

our $over = '{"ret":1008,"msg":"请求过于频繁，请稍后再试"}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens    $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m burst=2;
    upbot_codes {
        c1  static  g1  url=https://x/c1;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Error $upbot_error always;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a burst, then 429 at once
--- request eval
[main::visit("c1", "A"), main::visit("c1", "A"), main::visit("c1", "A"),
 main::visit("c1", "A"), main::visit("c1", "A")]
--- error_code eval
[200, 200, 200, 429, 429]
--- response_body eval
[main::ans("https://x/c1"), main::ans("https://x/c1"),
 main::ans("https://x/c1"), $main::over, $main::over]
--- response_headers eval
["X-Error:", "X-Error:", "X-Error:",
 "X-Error: visitor over upbot_limit_visitor rate=20r/m burst=2",
 "X-Error: visitor over upbot_limit_visitor rate=20r/m burst=2"]



=== TEST 2: the refusal is logged at info with the trace id, and not as an error
--- http_config
    upbot_auth_tokens    $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m;
    upbot_codes {
        c1  static  g1  url=https://x/c1;
    }
--- raw_request eval
main::twice("L")
--- response_body eval
main::ans("https://x/c1")
--- error_log eval
qr/\[info\] .*upbot GetMediaInfo: visitor over upbot_limit_visitor rate=20r\/m burst=0 \(ret 1008\), trace_id: "t"/
--- no_error_log
[error]
[warn]



=== TEST 3: another visitor, and the same openid of another app, are not held back
--- request eval
[main::visit("c1", "A"), main::visit("c1", "A"), main::visit("c1", "A"),
 main::visit("c1", "A"), main::visit("c1", "B"), main::visit("c1", "A", "app2"),
 main::visit("c1", "A")]
--- error_code eval
[200, 200, 200, 429, 200, 200, 429]
--- response_body eval
[main::ans("https://x/c1"), main::ans("https://x/c1"),
 main::ans("https://x/c1"), $main::over, main::ans("https://x/c1"),
 main::ans("https://x/c1"), $main::over]



=== TEST 4: an empty openid is 1001 (GetMediaInfo requires one), never 1008
--- request eval
[main::visit("c1", ""), main::visit("c1", ""), main::visit("c1", ""),
 main::visit("c1", ""), main::visit("c1", "")]
--- error_code eval
[400, 400, 400, 400, 400]
--- no_error_log
ret 1008



=== TEST 5: unknown codes count too: the limit comes before the code
--- request eval
[main::visit("nope", "A"), main::visit("nope", "A"), main::visit("nope", "A"),
 main::visit("c1", "A")]
--- error_code eval
[404, 404, 404, 429]
--- response_body eval
['{"ret":1003,"msg":"活码不存在"}', '{"ret":1003,"msg":"活码不存在"}',
 '{"ret":1003,"msg":"活码不存在"}', $main::over]



=== TEST 6: no burst: one request, then 429
--- http_config
    upbot_auth_tokens    $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=1r/s;
    upbot_codes {
        c1  static  g1  url=https://x/c1;
    }
--- request eval
[main::visit("c1", "A"), main::visit("c1", "A")]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Error:", "X-Error: visitor over upbot_limit_visitor rate=1r/s burst=0"]



=== TEST 7: the bucket drains at the rate: after a 1 s request it has room again
--- http_config
    upbot_auth_tokens    $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=2r/s;
    upbot_codes {
        c1  static  g1  url=https://x/c1;
    }
--- config
    location = /m {
        upbot_get_media_info;
    }

    # 4,500 bytes at 2,000 a second (of whole seconds): 1 to 2 s
    location = /slow {
        limit_rate  2k;
    }
--- user_files eval
">>> tokens\nt0k3n\n>>> slow\n" . ("x" x 4500)
--- request eval
[main::visit("c1", "A"), main::visit("c1", "A"), "GET /slow",
 main::visit("c1", "A"), main::visit("c1", "A")]
--- error_code eval
[200, 429, 200, 200, 429]
--- response_body eval
[main::ans("https://x/c1"), $main::over, "x" x 4500, main::ans("https://x/c1"),
 $main::over]



=== TEST 8: upbot_limit_visitor off
--- http_config
    upbot_auth_tokens    $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_limit_visitor  off;
    upbot_codes {
        c1  static  g1  url=https://x/c1;
    }
--- request eval
[main::visit("c1", "A"), main::visit("c1", "A"), main::visit("c1", "A"),
 main::visit("c1", "A")]
--- error_code eval
[200, 200, 200, 200]



=== TEST 9: upbot_limit_visitor needs upbot_zone
--- http_config
    upbot_limit_visitor  rate=20r/m;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_limit_visitor" needs "upbot_zone" to count visitors' requests, in \S+nginx\.conf:\d+/



=== TEST 10: a rate of another unit
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/h;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "rate=20r\/h" in "upbot_limit_visitor", expected rate=Nr\/s or rate=Nr\/m, N from 1 to 1000000 in \S+nginx\.conf:\d+/



=== TEST 11: a rate of zero
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=0r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid rate "rate=0r\/s" in "upbot_limit_visitor", expected rate=Nr\/s or rate=Nr\/m, N from 1 to 1000000 in \S+nginx\.conf:\d+/



=== TEST 12: a burst that is not a number
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m burst=-1;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid burst "burst=-1" in "upbot_limit_visitor", expected burst=N, N from 0 to 1000000 in \S+nginx\.conf:\d+/



=== TEST 13: a word it cannot place is not shown
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m s3cr3t;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter 2 of "upbot_limit_visitor" \(not shown: it may be a secret\), expected rate=Nr\/s, rate=Nr\/m, burst=N or off in \S+nginx\.conf:\d+/
--- no_error_log
s3cr3t



=== TEST 14: no rate
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  burst=5;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_limit_visitor" needs rate=Nr\/s or rate=Nr\/m in \S+nginx\.conf:\d+/



=== TEST 15: rate= twice
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m rate=1r/s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_limit_visitor" has rate= twice in \S+nginx\.conf:\d+/



=== TEST 16: the directive twice
--- http_config
    upbot_zone           upbot:1m;
    upbot_limit_visitor  rate=20r/m;
    upbot_limit_visitor  rate=10r/m;
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_limit_visitor" directive is duplicate in \S+nginx\.conf:\d+/
