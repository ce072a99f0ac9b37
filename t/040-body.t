# How the body arrives: memory, a temp file, chunked, too large, empty.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Account = '"account_info":{"account_type":2,"appid":"a","openid":"o"}';

sub media {
    my ($pad) = @_;
    return "{\"pad\":\"$pad\",$Account,\"media_type\":2,\"code\":\"c1\",\"trace_id\":\"t\"}";
}

# a chunked request whose chunks split strings and UTF-8 characters
sub chunked {
    my ($body, $size) = @_;
    my $out = "POST /m HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Type: application/json\r\nAuthorization: t0k3n\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n";
    while (length $body) {
        my $c = substr($body, 0, $size, '');
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out . "0\r\n\r\n";
}

our $Ok = '{"ret":0,"msg":"","data":{"url":"https://x/c1","name":"火影忍者","background":""}}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_max_string_length 64k;
    upbot_codes {
        c1 static g1 url=https://x/c1 name=火影忍者;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    client_body_buffer_size 1k;
    location = /m {
        upbot_get_media_info;
        add_header X-Error $upbot_error always;
    }
    location = /e {
        upbot_event_log html/events.jsonl;
        upbot_report_media_event;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a body larger than client_body_buffer_size goes through a temp file
--- request eval
"POST /m\n" . main::media("x" x 5000)
--- response_body eval
$::Ok
--- error_log
a client request body is buffered to a temporary file



=== TEST 2: client_body_in_file_only
--- config
    client_body_in_file_only on;
    location = /m { upbot_get_media_info; }
--- request eval
"POST /m\n" . main::media("y")
--- response_body eval
$::Ok



=== TEST 3: 40 KB of three-byte characters read from the temp file in 16 KB pieces
--- request eval
["POST /e\n{\"head\":{$::Account},\"items\":[{\"trace_id\":\"" . ("火" x 13000) . "\"}]}",
 "GET /events.jsonl"]
--- response_body_like eval
[qr/^\{"ret":0,"msg":""\}$/, qr/"trace_id":"(?:火){13000}"\}\n$/]



=== TEST 4: chunked, in 7-byte chunks that split strings and characters
--- raw_request eval
main::chunked(main::media("火影忍者" x 20), 7)
--- response_body eval
$::Ok



=== TEST 5: chunked, one byte a chunk
--- raw_request eval
main::chunked(main::media("z"), 1)
--- response_body eval
$::Ok



=== TEST 6: chunked, larger than client_body_buffer_size
--- raw_request eval
main::chunked(main::media("火" x 3000), 1000)
--- response_body eval
$::Ok



=== TEST 7: a chunked body that grows past client_max_body_size: 1001 with 413
--- config
    location = /m {
        client_max_body_size 200;
        upbot_get_media_info;
    }
--- raw_request eval
main::chunked(main::media("x" x 1000), 100)
--- error_code: 413
--- response_body chomp
{"ret":1001,"msg":"请求参数错误，请稍后再试"}
--- error_log
request body larger than client_max_body_size



=== TEST 8: a body announced larger than client_max_body_size: nginx's own 413
--- config
    location = /m {
        client_max_body_size 200;
        upbot_get_media_info;
    }
--- request eval
"POST /m\n" . main::media("x" x 1000)
--- error_code: 413
--- error_log
client intended to send too large body



=== TEST 9: no body
--- request
POST /m
--- error_code: 400
--- response_body chomp
{"ret":1001,"msg":"请求参数错误，请稍后再试"}
--- response_headers_like
X-Error: ^invalid JSON at byte 0: the body is empty$
