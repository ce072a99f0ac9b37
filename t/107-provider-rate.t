# rate= and rate_wait= of an app: calls to a provider never come faster
# than its rate, in every worker (t/108: four of them); a client's call
# waits for its slot up to rate_wait, else is not made and the answer is
# 1005 with HTTP 503 and $upbot_error saying why; a refresh in the
# background is made only in a free slot, the stale facts serving
# meanwhile; the options' mistakes.

use lib 't/lib';
use MockIM;
use Scrape qw(has);
use Test::Nginx::Socket 'no_plan';

log_level("info");

my %groups = map {
    ("\@TGS#$_" => { Name => "g$_", MemberNum => 1, MaxMemberNum => 200 })
} 1 .. 9;

# a pool of 51: two calls of 50 and 1 groups, the first 50 full
$groups{"\@TGS#full$_"} = { Name => "f$_", MemberNum => 200, MaxMemberNum => 200 }
    for 1 .. 50;

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => \%groups },
});

sub req {
    my ($code) = @_;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-rate\"}";
}

sub pause { "POST /mock/sleep\n{\"ms\":$_[0]}" }

our $Rows = join '', (map { "        c$_  tim:prod  \@TGS#$_;\n" } 1 .. 9),
                     (map { "        big  tim:prod  \@TGS#full$_;\n" } 1 .. 50),
                     "        big  tim:prod  \@TGS#9;\n";

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    my $app = ($block->can('app') && $block->app) // "rate=1r/s rate_wait=300ms";

    $block->set_value("http_config", <<"_EOC_") unless defined $block->http_config;
    upbot_zone  upbot:1m;
    upbot_cache  ttl=1s stale=10s;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim $app;
    upbot_codes {
$::Rows    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Error $upbot_error always;
    }
    location = /metrics {
        upbot_metrics;
    }
    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
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

=== TEST 1: a call within rate_wait of its slot waits for it (their spacing: t/108)
--- timeout: 8
--- app: rate=1r/s rate_wait=3s
--- request eval
[main::req("c1"), main::req("c2"), main::req("c3"), "GET /calls"]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr/"ret":0/, qr/\A(?:[^\n]*"time":[^\n]*\n){3}\z/]
--- error_code eval
[200, 200, 200, 200]



=== TEST 2: a slot further off than rate_wait: no call, 1005 with HTTP 503 and why
--- request eval
[main::req("c1"), main::req("c2"), "GET /metrics"]
--- error_code eval
[200, 503, 200]
--- response_headers eval
[{}, { "X-Error" => 'no usable group in the pool of code "c2": no call to tim:prod within rate_wait=300 ms at its rate=1r/s, and no facts are at hand' }, {}]
--- response_body_like eval
[qr/"ret":0/, qr/^\Q{"ret":1005,"msg":"服务繁忙，请稍后再试"}\E$/,
 main::has('upbot_provider_calls_total{provider="tim",app="prod",outcome="ok"} 1',
           'upbot_provider_calls_total{provider="tim",app="prod",outcome="paced"} 1',
           'upbot_provider_call_duration_seconds_count{provider="tim",app="prod"} 1')]



=== TEST 3: one request's second call (a pool of 51 groups) comes after its rate_wait: the warning
--- request eval
main::req("big")
--- error_code: 503
--- response_body_like eval
qr/"ret":1005/
--- error_log
upbot: tim:prod: no call within 300 ms at its rate=1r/s (groups: 1), trace id "t-rate"



=== TEST 4: the group is not marked failed: once its slot is free, the next request calls
--- request eval
[main::req("c1"), main::req("c2"), main::pause(1200), main::req("c2")]
--- error_code eval
[200, 503, 200, 200]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":1005/, qr//, qr/"ret":0/]



=== TEST 5: a refresh due when no slot is free is put off: the stale facts are served, no call
--- app: rate=1r/s rate_wait=2s
--- request eval
[main::req("c1"), main::req("c2"), main::pause(600), main::req("c1"),
 "GET /calls"]
--- response_headers eval
[{ "X-Cache" => "MISS" }, { "X-Cache" => "MISS" }, {},
 { "X-Cache" => "UPDATING" }, {}]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/, qr//, qr/"ret":0/,
 qr/\A(?:[^\n]*"time":[^\n]*\n){2}\z/]
--- timeout: 6



=== TEST 6: the options' mistakes, with file and line
--- app: rate=0r/s
--- request
GET /m
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "rate=0r\/s" of app "tim:prod", expected rate=Nr\/s or rate=Nr\/m, N from 1 to 1000000 in .*nginx\.conf:\d+/



=== TEST 7: a rate in another unit
--- app: rate=200r/h
--- request
GET /m
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid "rate=200r\/h" of app "tim:prod"/



=== TEST 8: rate= twice
--- app: rate=1r/s rate=2r/s
--- request
GET /m
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate "rate=" of app "tim:prod" in .*nginx\.conf:\d+/



=== TEST 9: rate_wait= not a time
--- app: rate_wait=soon
--- request
GET /m
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "rate_wait=\.\.\." of app "tim:prod" in .*nginx\.conf:\d+/
