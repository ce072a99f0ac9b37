# Seed 000's and seed 001's example requests, verbatim, answer ret 0.

use Test::Nginx::Socket 'no_plan';

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n  seeds\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_event_log    html/events.jsonl;

    upbot_codes {
        IsFXtWUZ3x3hywGl  static  g1  url=https://work.weixin.qq.com/gm/g1
                                      name=火影忍者-聊天俱乐部;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /upbot/api/GetMediaInfo     { upbot_get_media_info; }
    location = /upbot/api/ReportMediaEvent { upbot_report_media_event; }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: seed 000, GetMediaInfo
--- request
POST /upbot/api/GetMediaInfo
{
    "account_info": {
        "account_type": 2,
        "appid": "xxxx",
        "openid": "xxxx"
    },
    "media_type": 2,
    "code": "IsFXtWUZ3x3hywGl ",
    "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"
}
--- more_headers
Content-Type: application/json
Authorization: t0k3n
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://work.weixin.qq.com/gm/g1","name":"火影忍者-聊天俱乐部","background":""}}
--- no_error_log
[error]



=== TEST 2: seed 001, ReportMediaEvent, and the line it stores
--- request eval
["POST /upbot/api/ReportMediaEvent
{
    \"head\": {
        \"account_info\": {
            \"account_type\": 2,
            \"appid\": \"xxxx\",
            \"openid\": \"xxxx\"
        },
        \"device_info\": {
            \"device_type\": 1,
            \"uuid\": \"xxxx\"
        }
    },
    \"items\": [{
        \"event_id\": \"1002\",
        \"event_time\": 1699274742,
        \"media_type\": 2,
        \"code\": \"IsFXtWUZ3x3hywGl \",
        \"trace_id\": \"Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9\"
    }]
}", "GET /events.jsonl"]
--- more_headers
Content-Type: application/json
Authorization: t0k3n
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"ret":0,"msg":""\}$/,
 qr/^\{"received_ms":\d{13},"request_id":"[0-9a-f]{32}","client_addr":"127\.0\.0\.1","account_type":2,"appid":"xxxx","openid":"xxxx","device_type":1,"uuid":"xxxx","event_id":"1002","event_time":1699274742,"media_type":2,"code":"IsFXtWUZ3x3hywGl","trace_id":"Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"\}\n$/]
--- no_error_log
[error]
