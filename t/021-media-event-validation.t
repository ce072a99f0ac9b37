# ReportMediaEvent: malformed batches are 1001 and store nothing.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Head = '"head":{"account_info":{"account_type":2,"appid":"a","openid":"o"}}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /e {
        upbot_event_log html/events.jsonl;
        upbot_report_media_event;
        add_header X-Error $upbot_error always;
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

=== TEST 1: head missing
--- request
POST /e
{"items":[{"event_id":"1110201"}]}
--- error_log
upbot ReportMediaEvent: head: missing



=== TEST 2: items missing
--- request eval
"POST /e\n{$::Head}"
--- error_log
upbot ReportMediaEvent: items: missing



=== TEST 3: an empty list
--- request eval
"POST /e\n{$::Head,\"items\":[]}"
--- error_log
items: must not be empty



=== TEST 4: both item and items
--- request eval
"POST /e\n{$::Head,\"items\":[{}],\"item\":[{}]}"
--- error_log
item: given twice



=== TEST 5: items as an object
--- request eval
"POST /e\n{$::Head,\"items\":{\"event_id\":\"1\"}}"
--- error_log
items: must be a list of objects



=== TEST 6: items holding a number
--- request eval
"POST /e\n{$::Head,\"items\":[{},1]}"
--- error_log
items: must hold objects only



=== TEST 7: a list inside items
--- request eval
"POST /e\n{$::Head,\"items\":[[]]}"
--- error_log
items: must hold objects only



=== TEST 8: 101 items are too many
--- request eval
"POST /e\n{$::Head,\"items\":[" . CORE::join(",", ("{\"event_id\":1110201}") x 101) . "]}"
--- error_log
items: more than 100 items



=== TEST 9: upbot_max_items
--- config
    location = /e {
        upbot_max_items 2;
        upbot_event_log html/ev-max.jsonl;
        upbot_report_media_event;
    }
--- request eval
"POST /e\n{$::Head,\"items\":[{},{},{}]}"
--- error_code: 400
--- error_log
items: more than 2 items



=== TEST 10: event_id a fraction
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":1.5}]}"
--- error_log
items[0].event_id: must be an integer



=== TEST 11: event_id negative
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":-1}]}"
--- error_log
items[0].event_id: -1 is out of range



=== TEST 12: event_id boolean
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":true}]}"
--- error_log
items[0].event_id: must be a string or an integer



=== TEST 13: event_id empty
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":\"\"}]}"
--- error_log
items[0].event_id: must not be empty



=== TEST 14: the second item is bad
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":\"1110201\",\"code\":\"c1\"},{\"event_time\":\"1699274742\"}]}"
--- error_log
items[1].event_time: must be an integer



=== TEST 15: ... and nothing of that batch is stored (the log nginx created stays empty)
--- config
    location = /e {
        upbot_event_log html/ev-nothing.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":\"1110201\",\"code\":\"c1\"},{\"event_time\":\"1699274742\"}]}",
 "GET /ev-nothing.jsonl"]
--- error_code eval
[400, 200]
--- response_body eval
['{"ret":1001,"msg":"请求参数错误，请稍后再试"}', ""]



=== TEST 16: event_time negative
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_time\":-5}]}"
--- error_log
items[0].event_time: -5 is out of range



=== TEST 17: duration as a string
--- request eval
"POST /e\n{$::Head,\"items\":[{\"duration\":\"5\"}]}"
--- error_log
items[0].duration: must be an integer



=== TEST 18: media_type zero
--- request eval
"POST /e\n{$::Head,\"items\":[{\"media_type\":0}]}"
--- error_log
items[0].media_type: 0 is out of range



=== TEST 19: a code that is too long
--- request eval
"POST /e\n{$::Head,\"items\":[{\"code\":\"" . ("x" x 65) . "\"}]}"
--- error_log
items[0].code: longer than 64 bytes



=== TEST 20: a blank code
--- request eval
"POST /e\n{$::Head,\"items\":[{\"code\":\"  \"}]}"
--- error_log
items[0].code: must not be empty



=== TEST 21: trace_id as a number
--- request eval
"POST /e\n{$::Head,\"items\":[{\"trace_id\":12}]}"
--- error_log
items[0].trace_id: must be a string



=== TEST 22: device_type out of range
--- request
POST /e
{"head":{"account_info":{"account_type":2,"appid":"a","openid":"o"},"device_info":{"device_type":3}},"items":[{}]}
--- error_log
head.device_info.device_type: 3 is out of range 1..2



=== TEST 23: uuid as a number
--- request
POST /e
{"head":{"account_info":{"account_type":2,"appid":"a","openid":"o"},"device_info":{"uuid":5}},"items":[{}]}
--- error_log
head.device_info.uuid: must be a string



=== TEST 24: head without account_info
--- request
POST /e
{"head":{"device_info":{"device_type":1}},"items":[{}]}
--- error_log
head.account_info: missing



=== TEST 25: head.account_info without appid
--- request
POST /e
{"head":{"account_info":{"account_type":1,"openid":"o"}},"items":[{}]}
--- error_log
head.account_info.appid: missing



=== TEST 26: the tenth item's field is named in the reason
--- request eval
"POST /e\n{$::Head,\"item\":[" . CORE::join(",", ("{}") x 9) . ",{\"duration\":null}]}"
--- error_log
item[9].duration: must be an integer



=== TEST 27: a string longer than upbot_max_string_length
--- config
    location = /e {
        upbot_max_string_length 8;
        upbot_event_log html/ev-len.jsonl;
        upbot_report_media_event;
    }
--- request eval
"POST /e\n{$::Head,\"items\":[{\"trace_id\":\"123456789\"}]}"
--- error_code: 400
--- error_log
items[0].trace_id: longer than 8 bytes



=== TEST 28: not JSON at all
--- request
POST /e
items=1
--- error_log
upbot ReportMediaEvent: invalid JSON
