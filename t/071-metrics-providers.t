# upbot_metrics and the providers, against util/mock-im.pl: each outcome of
# a call (ok, refused, invalid, http_error, failed, timeout), what the
# answers said of each group (ok, gone, a provider's error code), the
# calls' durations, and the facts cache's statuses (MISS, HIT, UPDATING,
# EXPIRED) as $upbot_cache_status shows them.

use lib 't/lib';
use MockIM;
use Scrape qw(has);
use Test::Nginx::Socket 'no_plan';

log_level("info");

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => {
                 '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://j/full' }] },
                 '@TGS#a'    => { Name => 'a', MemberNum => 5, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://j/a' }] },
                 '@TGS#gone' => { ErrorCode => 10010 },
                 '@TGS#err'  => { ErrorCode => 10002 },
             } },
});

sub req {
    my ($code) = @_;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-metrics\"}";
}

sub pause { "POST /mock/sleep\n{\"ms\":$_[0]}" }

our $Calls = 'upbot_provider_calls_total{provider="tim",app="prod",outcome="%s"} %d';
sub calls { sprintf $Calls, @_ }

sub groups {
    sprintf 'upbot_provider_groups_total{provider="tim",app="prod",result="%s"} %d', @_
}

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<"_EOC_") unless defined $block->http_config;
    upbot_zone  upbot:1m;
    upbot_cache  ttl=1s stale=1s retry=1ms;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim timeout=1s;
    upbot_tim  dead  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/dead;

    upbot_codes {
        c1  tim:prod  \@TGS#full;
        c1  tim:prod  \@TGS#a;

        c2  tim:prod  \@TGS#gone;
        c2  tim:prod  \@TGS#err;
        c2  tim:prod  \@TGS#a;

        c5  tim:prod  \@TGS#err;

        cd  tim:dead  \@TGS#a;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
    }

    location = /metrics {
        upbot_metrics;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
    }

    location = /_upbot/dead {
        internal;
        proxy_pass http://127.0.0.1:1/v4/group_open_http_svc/get_group_info$is_args$args;
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

=== TEST 1: a call that answers: ok, its groups ok, its duration; a miss then a hit
--- request eval
[main::req("c1"), main::req("c1"), "GET /metrics"]
--- response_headers eval
[{ "X-Cache" => "MISS" }, { "X-Cache" => "HIT" }, {}]
--- response_body_like eval
[qr/"ret":0/, qr/"ret":0/,
 main::has(main::calls("ok", 1), main::calls("timeout", 0),
           main::groups("ok", 2), main::groups("gone", 0),
           'upbot_provider_call_duration_seconds_count{provider="tim",app="prod"} 1',
           'upbot_provider_call_duration_seconds_bucket{provider="tim",app="prod",le="+Inf"} 1',
           'upbot_cache_lookups_total{status="MISS"} 1',
           'upbot_cache_lookups_total{status="HIT"} 1',
           'upbot_picks_total{outcome="switched"} 2',
           'upbot_groups{state="full"} 1',
           'upbot_groups{state="usable"} 2',
           'upbot_groups{state="unknown"} 4')]



=== TEST 2: a group gone, a group failed with the provider's code, in a call that answered
--- request eval
[main::req("c2"), "GET /metrics"]
--- response_body_like eval
[qr{https://j/a},
 main::has(main::calls("ok", 1), main::groups("ok", 1),
           main::groups("gone", 1), main::groups("10002", 1),
           'upbot_groups{state="gone"} 1')]



=== TEST 3: the provider refuses the whole call: each of its groups gets the code
--- mock_fault
{"provider":"tim","mode":"error","code":10007}
--- request eval
[main::req("c1"), "GET /metrics"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/"ret":1005/,
 main::has(main::calls("refused", 1), main::calls("ok", 0),
           main::groups("10007", 2),
           'upbot_requests_total{api="GetMediaInfo",ret="1005"} 1',
           'upbot_picks_total{outcome="exhausted"} 1')]



=== TEST 4: HTTP 500
--- mock_fault
{"provider":"tim","mode":"http500"}
--- request eval
[main::req("c1"), "GET /metrics"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/"ret":1005/, main::has(main::calls("http_error", 1))]



=== TEST 5: an answer that is not understood
--- mock_fault
{"provider":"tim","mode":"garbage"}
--- request eval
[main::req("c1"), "GET /metrics"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/"ret":1005/, main::has(main::calls("invalid", 1))]



=== TEST 6: no answer at all (connection refused)
--- request eval
[main::req("cd"), "GET /metrics"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/"ret":1005/,
 main::has('upbot_provider_calls_total{provider="tim",app="dead",outcome="failed"} 1',
           main::calls("failed", 0))]



=== TEST 7: no answer within the app's timeout=: timeout, and its duration in the bucket of 1 s or more
--- mock_fault
{"provider":"tim","mode":"hang"}
--- request eval
[main::req("c1"), "GET /metrics"]
--- error_code eval
[504, 200]
--- response_body_like eval
[qr/"ret":1005/,
 main::has(main::calls("timeout", 1),
           'upbot_provider_call_duration_seconds_bucket{provider="tim",app="prod",le="0.5"} 0',
           'upbot_provider_call_duration_seconds_bucket{provider="tim",app="prod",le="2.5"} 1',
           'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="0.5"} 0',
           'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="2.5"} 1')]
--- timeout: 5



=== TEST 8: stale facts refreshed in the background (UPDATING), then facts past "stale" fetched again (EXPIRED)
--- request eval
[main::req("c1"), main::pause(1200), main::req("c1"), main::pause(2300),
 main::req("c1"), "GET /metrics"]
--- response_headers eval
[{ "X-Cache" => "MISS" }, {}, { "X-Cache" => "UPDATING" }, {},
 { "X-Cache" => "EXPIRED" }, {}]
--- response_body_like eval
[qr/"ret":0/, qr//, qr/"ret":0/, qr//, qr/"ret":0/,
 main::has('upbot_cache_lookups_total{status="MISS"} 1',
           'upbot_cache_lookups_total{status="UPDATING"} 1',
           'upbot_cache_lookups_total{status="EXPIRED"} 1',
           main::calls("ok", 3))]
--- timeout: 10



=== TEST 9: no key or UserSig in a scrape after calls
--- request eval
[main::req("c1"), "GET /metrics"]
--- response_body_unlike eval
[qr/^$/, qr/tim-test-key|usersig|sdkappid/i]
