# Method, content type and Authorization: checked before the body is read.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Body = '{"account_info":{"account_type":2,"appid":"a","openid":"o"},'
          . '"media_type":2,"code":"c1","trace_id":"t-http"}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", <<'_EOF_') unless defined $block->user_files;
>>> tokens
# upbot API tokens
t0k3n        first client

s3cr3t-2
  another-one   third   # indented, with a comment
_EOF_

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1 name=G1;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Ret $upbot_ret always;
        add_header X-Error $upbot_error always;
        add_header X-Label $upbot_token_label always;
    }
_EOC_

    $block->set_value("request", "POST /m\n$Body") unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: a plain token
--- more_headers
Content-Type: application/json
Authorization: t0k3n
--- error_code: 200
--- response_headers
X-Ret: 0
X-Label: first client
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://example.com/j/g1","name":"G1","background":""}}



=== TEST 2: Bearer, any case, extra spaces
--- more_headers
Content-Type: application/json
Authorization: bEaReR    t0k3n  
--- error_code: 200
--- response_headers
X-Ret: 0



=== TEST 3: a token without a label is named by its line
--- more_headers
Content-Type: application/json
Authorization: Bearer s3cr3t-2
--- error_code: 200
--- response_headers
X-Label: line 4



=== TEST 4: an indented token, label before a comment
--- more_headers
Content-Type: application/json
Authorization: another-one
--- error_code: 200
--- response_headers
X-Label: third



=== TEST 5: no Authorization header
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
X-Ret: 1002
X-Error: no Authorization header
--- response_body chomp
{"ret":1002,"msg":"鉴权失败"}
--- error_log
upbot GetMediaInfo: no Authorization header (ret 1002)



=== TEST 6: an unknown token never shows in the log
--- more_headers
Content-Type: application/json
Authorization: Bearer wr0ng-t0k3n
--- error_code: 401
--- response_headers
X-Error: unknown token
--- response_body chomp
{"ret":1002,"msg":"鉴权失败"}
--- error_log
upbot GetMediaInfo: unknown token (ret 1002)
--- no_error_log
wr0ng-t0k3n



=== TEST 7: a prefix of a good token is refused
--- more_headers
Content-Type: application/json
Authorization: t0k3
--- error_code: 401



=== TEST 8: a good token plus more is refused
--- more_headers
Content-Type: application/json
Authorization: t0k3n2
--- error_code: 401



=== TEST 9: "Bearer" alone, and another scheme
--- request eval
["POST /m\n$::Body", "POST /m\n$::Body"]
--- more_headers eval
["Content-Type: application/json\nAuthorization: Bearer",
 "Content-Type: application/json\nAuthorization: Basic t0k3n"]
--- error_code eval
[401, 401]



=== TEST 10: the label of a comment line is not a token
--- more_headers
Content-Type: application/json
Authorization: # upbot API tokens
--- error_code: 401



=== TEST 11: authentication comes before the body: a bad body with no token is 1002
--- request
POST /m
this is not json
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"ret":1002,"msg":"鉴权失败"}



=== TEST 12: GET is 405 with Allow: POST
--- request
GET /m
--- more_headers
Authorization: t0k3n
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
X-Ret: 1007
--- response_body chomp
{"ret":1007,"msg":"请求方法或类型错误"}
--- error_log
upbot GetMediaInfo: method not allowed (ret 1007)



=== TEST 13: PUT with a body is 405, and the method is checked before the token
--- request eval
"PUT /m\n$::Body"
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_body chomp
{"ret":1007,"msg":"请求方法或类型错误"}



=== TEST 14: HEAD is 405 without a body
--- request
HEAD /m
--- error_code: 405
--- response_headers
Allow: POST
--- response_body



=== TEST 15: no Content-Type is 415
--- more_headers
Authorization: t0k3n
--- error_code: 415
--- response_headers
X-Error: Content-Type is not application/json
--- response_body chomp
{"ret":1007,"msg":"请求方法或类型错误"}



=== TEST 16: text/plain is 415
--- more_headers
Content-Type: text/plain
Authorization: t0k3n
--- error_code: 415



=== TEST 17: application/jsonp is not JSON
--- more_headers
Content-Type: application/jsonp
Authorization: t0k3n
--- error_code: 415



=== TEST 18: a charset parameter, any case, spaces
--- more_headers
Content-Type:  Application/JSON ; charset=UTF-8
Authorization: t0k3n
--- error_code: 200
--- response_headers
X-Ret: 0



=== TEST 19: upbot_auth_tokens off
--- config
    location = /m {
        upbot_auth_tokens off;
        upbot_get_media_info;
    }
--- more_headers
Content-Type: application/json
--- error_code: 200



=== TEST 20: a location's tokens replace the http level's
--- user_files
>>> tokens
t0k3n
>>> other
other-token  other
--- config
    location = /m {
        upbot_auth_tokens $TEST_NGINX_SERVER_ROOT/html/other;
        upbot_get_media_info;
        add_header X-Label $upbot_token_label always;
    }
--- request eval
["POST /m\n$::Body", "POST /m\n$::Body"]
--- more_headers eval
["Content-Type: application/json\nAuthorization: t0k3n",
 "Content-Type: application/json\nAuthorization: other-token"]
--- error_code eval
[401, 200]



=== TEST 21: relative tokens path is relative to the conf directory
--- user_files
>>> tokens
t0k3n
--- http_config
    upbot_auth_tokens  ../html/tokens;
    upbot_codes {
        c1  static  g1  url=https://example.com/j/g1;
    }
--- config
    location = /m { upbot_get_media_info; }
--- more_headers
Content-Type: application/json
Authorization: t0k3n
--- error_code: 200
