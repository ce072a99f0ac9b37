# ReportMediaEvent: what the event log gets, and 1006 when it can't.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Head = '"head":{"account_info":{"account_type":3,"appid":"wx1","openid":"op1"},'
          . '"device_info":{"device_type":2,"uuid":"dev-9"}}';

our $Prefix = '\{"received_ms":\d{13},"request_id":"([0-9a-f]{32})","client_addr":"127\.0\.0\.1",'
            . '"account_type":3,"appid":"wx1","openid":"op1","device_type":2,"uuid":"dev-9"';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: three items, three lines, in order, one request id
--- config
    location = /e {
        upbot_event_log html/ev1.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":1110201,\"event_time\":1699274742,\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t1\"},{\"event_id\":\"1110204\",\"code\":\" c1 \",\"duration\":12},{\"event_id\":\"1100102\",\"event_time\":0,\"duration\":0}]}",
 "GET /ev1.jsonl"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"ret":0,"msg":""\}$/,
 qr/^${main::Prefix},"event_id":"1110201","event_time":1699274742,"media_type":2,"code":"c1","trace_id":"t1"\}\n${main::Prefix},"event_id":"1110204","code":"c1","duration":12\}\n${main::Prefix},"event_id":"1100102","event_time":0,"duration":0\}\n$/]



=== TEST 2: the batch shares one request id, lines do not
--- config
    location = /e {
        upbot_event_log html/ev2.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{},{}]}", "GET /ev2.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/^.*"request_id":"([0-9a-f]{32})".*\n.*"request_id":"\1".*\n$/]



=== TEST 3: "item" works like "items"; no device_info, no device fields
--- config
    location = /e {
        upbot_event_log html/ev3.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{\"head\":{\"account_info\":{\"account_type\":1,\"appid\":\"a\",\"openid\":\"o\"}},\"item\":[{\"event_id\":\"1110201\"}]}",
 "GET /ev3.jsonl"]
--- response_body_like eval
[qr/"ret":0/,
 qr/^\{"received_ms":\d+,"request_id":"[0-9a-f]+","client_addr":"127\.0\.0\.1","account_type":1,"appid":"a","openid":"o","event_id":"1110201"\}\n$/]



=== TEST 4: an item with no fields is stored with the head's
--- config
    location = /e {
        upbot_event_log html/ev4.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"unknown\":{\"x\":[1]}}]}", "GET /ev4.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/^${main::Prefix}\}\n$/]



=== TEST 5: strings are escaped as JSON, UTF-8 kept
--- config
    location = /e {
        upbot_event_log html/ev5.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"trace_id\":\"q\\\"b\\\\s/n\\nt\\tz\\u0000 火影 \\ud83d\\ude00\"}]}",
 "GET /ev5.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/^${main::Prefix},"trace_id":"q\\"b\\\\s\/n\\nt\\tz\\u0000 火影 \x{f0}\x{9f}\x{98}\x{80}"\}\n$/]



=== TEST 6: 100 items, the most a batch may carry
--- config
    location = /e {
        upbot_event_log html/ev6.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[" . CORE::join(",", map { "{\"duration\":$_}" } 1 .. 100) . "]}",
 "GET /ev6.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/\A(?:\{[^\n]*"duration":\d+\}\n){100}\z/]



=== TEST 7: a log that cannot be written: 1006, nothing acknowledged
--- config
    location = /e {
        upbot_event_log /dev/full;
        upbot_report_media_event;
        add_header X-Ret $upbot_ret always;
    }
--- request eval
"POST /e\n{$::Head,\"items\":[{\"event_id\":\"1110201\",\"trace_id\":\"t-full\"}]}"
--- error_code: 503
--- response_headers
X-Ret: 1006
--- response_body chomp
{"ret":1006,"msg":"服务繁忙，请稍后再试"}
--- error_log eval
[qr/\[error\] .*upbot: write\(\) to "\/dev\/full" failed \(28: No space left on device\)/,
 qr/\[info\] .*upbot ReportMediaEvent: 1 events not stored: the event log could not be written \(ret 1006\), trace_id: "t-full"/]



=== TEST 8: the event log is inherited from the server level
--- config
    upbot_event_log html/ev8.jsonl;
    location = /e {
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"code\":\"inherited\"}]}", "GET /ev8.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"code":"inherited"\}\n$/]



=== TEST 9: the variables of a batch name its first item
--- config
    location = /e {
        upbot_event_log html/ev9.jsonl;
        upbot_report_media_event;
        add_header X-Code $upbot_code;
        add_header X-Trace $upbot_trace_id;
        add_header X-Ret $upbot_ret;
    }
--- request eval
"POST /e\n{$::Head,\"items\":[{\"code\":\" first \",\"trace_id\":\"tr-1\"},{\"code\":\"second\",\"trace_id\":\"tr-2\"}]}"
--- response_headers
X-Code: first
X-Trace: tr-1
X-Ret: 0



=== TEST 10: the event lines carry nginx's $request_id, the one the access log shows
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    log_format  rid  'access rid=$request_id';
--- config
    location = /e {
        upbot_event_log html/ev10.jsonl;
        access_log html/ev10.jsonl rid;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":\"1\"}]}", "POST /e\n{$::Head,\"items\":[{\"event_id\":\"2\"}]}", "GET /ev10.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr/^.*"request_id":"([0-9a-f]{32})".*"event_id":"1".*\naccess rid=\1\n.*"request_id":"(?!\1)([0-9a-f]{32})".*"event_id":"2".*\naccess rid=\2\n/]



=== TEST 11: a $request_id made before the handler (by "set") is the one stored
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    log_format  rid  'access rid=$rid';
--- config
    location = /e {
        set $rid $request_id;
        upbot_event_log html/ev11.jsonl;
        access_log html/ev11.jsonl rid;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":\"1\"}]}", "GET /ev11.jsonl"]
--- response_body_like eval
[qr/"ret":0/, qr/^.*"request_id":"([0-9a-f]{32})".*\naccess rid=\1\n/]



=== TEST 12: the largest numbers the fields take are written as they came
--- config
    location = /e {
        upbot_event_log html/ev12.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{$::Head,\"items\":[{\"event_id\":9007199254740991,\"event_time\":9007199254740991,\"media_type\":2147483647,\"duration\":2147483647},{\"event_time\":0,\"duration\":0,\"media_type\":1}]}",
 "GET /ev12.jsonl"]
--- response_body_like eval
[qr/"ret":0/,
 qr/"event_id":"9007199254740991","event_time":9007199254740991,"media_type":2147483647,"duration":2147483647\}\n.*"event_time":0,"media_type":1,"duration":0\}\n$/]



=== TEST 13: strings sent with escapes are written in the log's escaping, others as they came
--- config
    location = /e {
        upbot_event_log html/ev13.jsonl;
        upbot_report_media_event;
    }
--- request eval
["POST /e\n{\"head\":{\"account_info\":{\"account_type\":1,\"appid\":\"w\\u0078\\/1\",\"openid\":\"o\\\"p\"},\"device_info\":{\"uuid\":\"d\\u00e9v\"}},\"items\":[{\"event_id\":\"\\u0031\\u0032\",\"code\":\" c\\u0031\\t\",\"trace_id\":\"t/1\"},{\"event_id\":\"12\",\"code\":\"c1\",\"trace_id\":\"t\\\\1\"}]}",
 "GET /ev13.jsonl"]
--- response_body_like eval
[qr/"ret":0/,
 qr/"account_type":1,"appid":"wx\/1","openid":"o\\"p","uuid":"dév","event_id":"12","code":"c1","trace_id":"t\/1"\}\n.*"uuid":"dév","event_id":"12","code":"c1","trace_id":"t\\\\1"\}\n$/]
