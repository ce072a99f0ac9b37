# GetMediaInfo: every malformed body is 1001 (HTTP 400) with the exact reason
# in $upbot_error and the error log; never a 500.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Code65 = 'C' x 65;
our $Code64 = 'C' x 64;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        c1                  static  g1  url=https://example.com/j/g1 name=G1;
        IsFXtWUZ3x3hywGl    static  g1  url=https://example.com/j/seed;
        t3                  static  g1  url=https://example.com/j/t3 media_type=3;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Error $upbot_error always;
        add_header X-Code $upbot_code always;
        add_header X-Trace $upbot_trace_id always;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;

    unless (defined $block->error_code) {
        $block->set_value("error_code", 400);
        $block->set_value("response_body",
                          '{"ret":1001,"msg":"请求参数错误，请稍后再试"}')
            unless defined $block->response_body;
    }
});

run_tests();

__DATA__

=== TEST 1: not JSON
--- request
POST /m
hello
--- response_headers_like
X-Error: ^invalid JSON at byte 0: a value expected$
--- error_log
upbot GetMediaInfo: invalid JSON



=== TEST 2: a JSON array is not an object
--- request
POST /m
[]
--- response_headers
X-Error: the body must be a JSON object



=== TEST 3: a JSON string is not an object
--- request
POST /m
"c1"
--- response_headers
X-Error: the body must be a JSON object



=== TEST 4: white space only
--- request eval
"POST /m\n \r\n\t "
--- response_headers_like
X-Error: ^invalid JSON at byte \d+: the body is empty$



=== TEST 5: account_info missing
--- request
POST /m
{"media_type":2,"code":"c1","trace_id":"t5"}
--- response_headers
X-Error: account_info: missing
X-Code: c1
X-Trace: t5
--- error_log
upbot GetMediaInfo: account_info: missing (ret 1001), trace_id: "t5"



=== TEST 6: code missing
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"trace_id":"t"}
--- response_headers
X-Error: code: missing



=== TEST 7: trace_id missing
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1"}
--- response_headers
X-Error: trace_id: missing



=== TEST 8: media_type missing
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"code":"c1","trace_id":"t"}
--- response_headers
X-Error: media_type: missing



=== TEST 9: openid missing
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a"},"media_type":2,"code":"c1","trace_id":"t"}
--- response_headers
X-Error: account_info.openid: missing



=== TEST 10: account_type as a string
--- request
POST /m
{"account_info":{"account_type":"2","appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}
--- response_headers
X-Error: account_info.account_type: must be an integer



=== TEST 11: account_type out of range, both ends
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":0,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":4,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log eval
qr/account_info\.account_type: [04] is out of range 1\.\.3/



=== TEST 12: a fraction or an exponent is not an integer
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2.0,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2e0,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log
must be an integer



=== TEST 13: a boolean and a null are not integers
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":true,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":null,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log
must be an integer



=== TEST 14: media_type zero, negative, huge
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":0,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":-2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":123456789012345678901234567890,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log eval
qr/media_type: (0|-2|123456789012345678901234567890) is out of range 1\.\.2147483647/



=== TEST 15: a media_type that is not the code's is 1003, not 1001
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":3,"code":"c1","trace_id":"t"}
--- error_code: 404
--- response_body chomp
{"ret":1003,"msg":"活码不存在"}
--- response_headers
X-Error: code "c1" is of media_type 2, not 3



=== TEST 16: a code of another media_type
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":3,\"code\":\"t3\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"t3\",\"trace_id\":\"t\"}"]
--- error_code eval
[200, 404]
--- response_body eval
['{"ret":0,"msg":"","data":{"url":"https://example.com/j/t3","name":"","background":""}}',
 '{"ret":1003,"msg":"活码不存在"}']



=== TEST 17: code as a number
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":12,"trace_id":"t"}
--- response_headers
X-Error: code: must be a string



=== TEST 18: empty and blank codes
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\" \\t\\n \",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log
code: must not be empty



=== TEST 19: a code of 65 bytes is too long
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"$::Code65\",\"trace_id\":\"t\"}"
--- response_headers
X-Error: code: longer than 64 bytes



=== TEST 20: a code of 64 bytes with white space around is fine (and unknown)
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"  $::Code64\\t\",\"trace_id\":\"t\"}"
--- error_code: 404
--- response_body chomp
{"ret":1003,"msg":"活码不存在"}



=== TEST 21: a trace_id of 257 bytes is too long
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"" . ("t" x 257) . "\"}"
--- response_headers
X-Error: trace_id: longer than 256 bytes



=== TEST 22: a trace_id of 256 bytes is fine
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"" . ("t" x 256) . "\"}"
--- error_code: 200
--- response_body_like chomp
"ret":0



=== TEST 23: the length limit counts bytes after unescaping
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"" . ('\\u706b' x 86) . "\"}"
--- response_headers
X-Error: trace_id: longer than 256 bytes



=== TEST 24: empty appid
--- request
POST /m
{"account_info":{"account_type":2,"appid":"","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}
--- response_headers
X-Error: account_info.appid: must not be empty



=== TEST 25: account_info as a list and as a string
--- request eval
["POST /m\n{\"account_info\":[],\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":\"x\",\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']
--- error_log
account_info: must be an object



=== TEST 26: a field given twice
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","code":"c1","trace_id":"t"}
--- response_headers
X-Error: code: given twice



=== TEST 27: unknown fields, nested as deep as allowed, are ignored
--- request
POST /m
{"x":{"a":[1,2,{"b":[null,true,false,"s",1.5e3]}]},"account_info":{"extra":[[[]]],"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t","z":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}
--- error_code: 200
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://example.com/j/g1","name":"G1","background":""}}



=== TEST 28: 17 levels is too deep, even inside an unknown field
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t","z":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}
--- response_headers
X-Error: JSON nested deeper than 16 levels



=== TEST 29: upbot_max_json_depth
--- config
    location = /m {
        upbot_max_json_depth 3;
        upbot_get_media_info;
        add_header X-Error $upbot_error always;
    }
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\",\"z\":[[]]}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\",\"z\":[[[]]]}"]
--- error_code eval
[200, 400]
--- response_body_like eval
['"ret":0', '"ret":1001']



=== TEST 30: invalid UTF-8 in a value
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\xff\xfe\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"
--- response_headers_like
X-Error: ^invalid JSON at byte 57: invalid UTF-8$



=== TEST 31: invalid UTF-8 in an unknown field, and a truncated sequence
--- request eval
["POST /m\n{\"junk\":\"\xc3\x28\",\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"\xe7\x81\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}',
 '{"ret":1001,"msg":"请求参数错误，请稍后再试"}']



=== TEST 32: trailing bytes after the object
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"} x
--- response_headers_like
X-Error: ^invalid JSON at byte 103: data after the JSON value$



=== TEST 33: two objects
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}{}
--- response_headers_like
X-Error: ^invalid JSON at byte 102: data after the JSON value$



=== TEST 34: a truncated body
--- request
POST /m
{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_
--- response_headers_like
X-Error: ^invalid JSON at byte 94: the body ends inside a string$



=== TEST 35: comments are not JSON
--- request
POST /m
{/* c */"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}
--- response_headers_like
X-Error: ^invalid JSON at byte 1: comments are not JSON$



=== TEST 36: trailing white space is fine, and escapes are unescaped
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"\\u0049sFXtWUZ3x3hywGl\",\"trace_id\":\"t\"}\r\n\r\n \t"
--- error_code: 200
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://example.com/j/seed","name":"","background":""}}



=== TEST 37: control characters in the reason are not logged raw
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"no\\nsuch\\u0000code\",\"trace_id\":\"line1\\nline2\\\"q\"}"
--- error_code: 404
--- response_body chomp
{"ret":1003,"msg":"活码不存在"}
--- error_log
upbot GetMediaInfo: unknown code "no?such?code" (ret 1003), trace_id: "line1?line2?q"



=== TEST 38: a field name is matched exactly
--- request
POST /m
{"Account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"c1","trace_id":"t"}
--- response_headers
X-Error: account_info: missing



=== TEST 39: an escaped UTF-16 pair is one character; an escaped key is a key
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"\\u0063ode\":\"c1\",\"trace_id\":\"\\ud83d\\ude00\"}"
--- error_code: 200
--- response_headers
X-Trace: 😀



=== TEST 40: a lone UTF-16 surrogate is not text
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"\\ud83d x\"}"
--- response_headers_like
X-Error: ^invalid JSON at byte 99: a lone UTF-16 surrogate$



=== TEST 41: an overlong UTF-8 form is not UTF-8
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\xc0\xaf\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"
--- response_headers_like
X-Error: ^invalid JSON at byte 57: invalid UTF-8$



=== TEST 42: a UTF-8 surrogate is not UTF-8
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\xed\xa0\x80\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"
--- response_headers_like
X-Error: ^invalid JSON at byte 57: invalid UTF-8$



=== TEST 43: a raw control character in a string
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\x01\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"
--- response_headers_like
X-Error: ^invalid JSON at byte 57: a control character in a string$



=== TEST 44: numbers as JSON writes them, and only those
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":02,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2.,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":+2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2e0,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":-2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_headers_like eval
["X-Error: ^invalid JSON at byte 33: an invalid number\$", "X-Error: ^invalid JSON at byte 34: an invalid number\$",
 "X-Error: ^invalid JSON at byte 32: a value expected\$", "X-Error: ^account_info.account_type: must be an integer\$",
 "X-Error: ^account_info.account_type: -2 is out of range 1..3\$"]



=== TEST 45: literals are exact
--- request eval
["POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\",\"x\":tru}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\",\"x\":[true,false,null,{}]}"]
--- error_code eval
[400, 200]
--- response_headers_like eval
["X-Error: ^invalid JSON at byte 106: a value expected\$", ""]



=== TEST 46: white space of every kind between tokens: CR LF, tabs, long indents, a tab or CR after spaces and line feeds
--- request eval
"POST /m\n{\r\n\t\t\"account_info\" :\t{\n                    \"account_type\": 2,\r\n\t\"appid\":\"a\",\n          \t\"openid\":\"o\"\n        \r},\n                  \r\n   \"media_type\"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n:2 ,\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\"code\":\"c1\",\"trace_id\":\"t\"\r\n}\r\n"
--- error_code: 200
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://example.com/j/g1","name":"G1","background":""}}



=== TEST 47: a form feed or a vertical tab in an indent is not white space
--- request eval
["POST /m\n{\n            \f    \"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}",
 "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\n   \x0b                \"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}"]
--- error_code eval
[400, 400]
--- response_headers_like eval
['X-Error: ^invalid JSON at byte 14: a name in quotes expected$',
 'X-Error: ^invalid JSON at byte 64: a name in quotes expected$']



=== TEST 48: the variables show control characters as "?" but keep quotes; the log line replaces both
--- request eval
"POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"},\"media_type\":2,\"code\":\"no\\u007fsuch\\tcode\",\"trace_id\":\"line1\\u0001line2\\\"q\"}"
--- error_code: 404
--- response_headers
X-Code: no?such?code
X-Trace: line1?line2"q
X-Error: unknown code "no?such?code"
--- error_log
trace_id: "line1?line2?q"
