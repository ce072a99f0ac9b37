# upbot_metrics: the Prometheus text format (0.0.4) of the zone's counters,
# after scripted requests: requests by API and ret, picks, events by id,
# the event log's bytes, groups by state, the funnel of a code flagged
# "metrics" (and no other), label escaping, no secret; and the location's
# configuration errors.  Provider calls and the cache: t/071; 4 workers
# and reloads: t/072.

use lib 't/lib';
use MediaInfo qw(req show events);
use Scrape qw(has);
use Test::Nginx::Socket 'no_plan';

log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone         upbot:1m;
    upbot_attribution  on;
    upbot_tim     prod  sdkappid=1400000000 identifier=admin
                        key=tim-secret-key-123 location=/_upbot/tim;
    upbot_yunxin  yx    appkey=yx-app-key secret=yx-secret-456
                        location=/_upbot/yx;
    upbot_codes {
        two     static  g1  url=https://x/two1 max_views=2 metrics;
        two     static  g2  url=https://x/two2;

        "q\"b\\s"  static  g1  url=https://x/q metrics;

        quiet   static  g1  url=https://x/quiet;

        lone    static  g1  url=https://x/lone max_views=1;

        safe    static  g1  url=https://x/safe1 down;
        safe    static  kf  url=https://x/kf fallback;

        old     static  g1  url=https://x/old expires=1600000000;
        soon    static  g1  url=https://x/soon expires=$TEST_NGINX_SOON;

        live    tim:prod  @TGS#a;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
    }
    location = /e {
        upbot_report_media_event;
        upbot_event_log  $TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    }
    location = /metrics {
        upbot_metrics;
    }
    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:1;
    }
    location /_upbot/yx {
        internal;
        proxy_pass http://127.0.0.1:1;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

# a group that expires within the day
$ENV{TEST_NGINX_SOON} = time() + 3600;

run_tests();

__DATA__

=== TEST 1: the format: a HELP and a TYPE line for each family, the content type, zeros before any request
--- request
GET /metrics
--- more_headers
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
main::has('# TYPE upbot_build_info gauge',
          '# TYPE upbot_requests_total counter',
          '# TYPE upbot_request_duration_seconds histogram',
          '# TYPE upbot_cache_lookups_total counter',
          '# TYPE upbot_picks_total counter',
          '# TYPE upbot_provider_calls_total counter',
          '# TYPE upbot_provider_call_duration_seconds histogram',
          '# TYPE upbot_provider_groups_total counter',
          '# TYPE upbot_events_total counter',
          '# TYPE upbot_event_log_bytes_total counter',
          '# TYPE upbot_event_log_errors_total counter',
          '# TYPE upbot_funnel_dropped_total counter',
          '# TYPE upbot_groups gauge',
          '# TYPE upbot_zone_bytes gauge',
          '# TYPE upbot_codes gauge',
          '# TYPE upbot_code_funnel_total counter',
          'upbot_requests_total{api="GetMediaInfo",ret="0"} 0',
          'upbot_requests_total{api="ReportMediaEvent",ret="1006"} 0',
          'upbot_requests_total{api="GetMediaInfo",ret="none"} 0',
          'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="0.005"} 0',
          'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="2.5"} 0',
          'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="+Inf"} 0',
          'upbot_request_duration_seconds_sum{api="GetMediaInfo"} 0',
          'upbot_request_duration_seconds_count{api="GetMediaInfo"} 0',
          'upbot_provider_calls_total{provider="tim",app="prod",outcome="ok"} 0',
          'upbot_provider_calls_total{provider="yunxin",app="yx",outcome="timeout"} 0',
          'upbot_zone_bytes{kind="size"} 1048576',
          'upbot_codes 8', qr/^upbot_code_funnel_total\{/m)



=== TEST 2: requests by API and ret, and picks by outcome
--- request eval
[main::req("two"), main::req("two"), main::req("two"), main::req("nope"),
 main::req("lone"), main::req("lone"), main::req("safe"),
 "GET /metrics"]
--- response_body_like eval
[qr/two1/, qr/two1/, qr/two2/, qr/"ret":1003/, qr/lone/, qr/"ret":1004/,
 qr/kf/,
 main::has('upbot_requests_total{api="GetMediaInfo",ret="0"} 5',
           'upbot_requests_total{api="GetMediaInfo",ret="1003"} 1',
           'upbot_requests_total{api="GetMediaInfo",ret="1004"} 1',
           'upbot_requests_total{api="ReportMediaEvent",ret="0"} 0',
           'upbot_request_duration_seconds_count{api="GetMediaInfo"} 7',
           'upbot_request_duration_seconds_bucket{api="GetMediaInfo",le="+Inf"} 7',
           'upbot_picks_total{outcome="first"} 3',
           'upbot_picks_total{outcome="switched"} 1',
           'upbot_picks_total{outcome="fallback"} 1',
           'upbot_picks_total{outcome="exhausted"} 1',
           'upbot_picks_total{outcome="sticky"} 0')]
--- error_code eval
[200, 200, 200, 404, 200, 409, 200, 200]



=== TEST 3: groups by state now: usable, full (max_views= used up), down, expired, unknown (a live group not fetched), expiring within 24 h
--- request eval
[main::req("lone"), "GET /metrics"]
--- response_body_like eval
[qr/lone/,
 main::has('upbot_groups{state="usable"} 6',
           'upbot_groups{state="full"} 1',
           'upbot_groups{state="down"} 1',
           'upbot_groups{state="expired"} 1',
           'upbot_groups{state="closed"} 0',
           'upbot_groups{state="unknown"} 1',
           'upbot_groups{state="gone"} 0',
           'upbot_groups{state="expiring"} 1')]



=== TEST 4: events by id, the bytes written, and the funnel of a flagged code: answer, exposure, long-press and jump of the group shown; an event of an unknown trace counts for the code
--- request eval
[main::show("two", "tr-1"), main::show("two", "tr-2"), main::show("two", "tr-3"),
 main::events(["1110201", "two", "tr-1"], ["1110204", "two", "tr-1"],
              ["1100102", "two", "tr-1"], ["1110201", "two", "tr-3"],
              ["1110201", "two", "tr-none"], ["9", "two", "tr-1"],
              ["1110201", "quiet", "tr-q"]),
 "GET /metrics"]
--- response_body_like eval
[qr/two1/, qr/two1/, qr/two2/, qr/"ret":0/,
 main::has('upbot_events_total{event_id="1110201"} 4',
           'upbot_events_total{event_id="1110204"} 1',
           'upbot_events_total{event_id="1100102"} 1',
           'upbot_events_total{event_id="other"} 1',
           'upbot_event_log_errors_total 0',
           'upbot_code_funnel_total{code="two",group="g1",step="answer"} 2',
           'upbot_code_funnel_total{code="two",group="g1",step="exposure"} 1',
           'upbot_code_funnel_total{code="two",group="g1",step="long_press"} 1',
           'upbot_code_funnel_total{code="two",group="g1",step="jump"} 1',
           'upbot_code_funnel_total{code="two",group="g2",step="answer"} 1',
           'upbot_code_funnel_total{code="two",group="g2",step="exposure"} 1',
           'upbot_code_funnel_total{code="two",group="",step="exposure"} 1',
           'upbot_code_funnel_total{code="two",group="",step="answer"} 0',
           qr/code="quiet"/)]



=== TEST 5: a label value is escaped: a quote, a backslash
--- request eval
[main::req("q\\\"b\\\\s"), "GET /metrics"]
--- response_body_like eval
[qr{https://x/q},
 main::has('upbot_code_funnel_total{code="q\\"b\\\\s",group="g1",step="answer"} 1')]



=== TEST 6: no key or secret of an app in a scrape
--- request eval
[main::req("live"), "GET /metrics"]
--- error_code eval
[502, 200]
--- response_body_unlike eval
[qr/^$/, qr/secret|tim-secret-key-123|yx-secret-456|yx-app-key|usersig/i]



=== TEST 7: only GET and HEAD
--- request
POST /metrics
x
--- more_headers
--- error_code: 405



=== TEST 8: HEAD: the headers only
--- request
HEAD /metrics
--- more_headers
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body



=== TEST 9: upbot_metrics without upbot_zone: nginx -t says where
--- http_config
    upbot_codes {
        c  static  g  url=https://x/c;
    }
--- config
    location = /metrics {
        upbot_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*the metrics and the status page need "upbot_zone" for their counters, in .*nginx\.conf:\d+/



=== TEST 10: upbot_metrics in an API location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /m {
        upbot_auth_tokens off;
        upbot_get_media_info;
        upbot_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_metrics" directive is not allowed in an API location in .*nginx\.conf:\d+/



=== TEST 11: upbot_metrics twice in a location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /metrics {
        upbot_metrics;
        upbot_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_metrics" directive is duplicate in .*nginx\.conf:\d+/



=== TEST 12: upbot_metrics and upbot_status in one location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /both {
        upbot_status;
        upbot_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_metrics" directive is not allowed in an upbot_metrics or upbot_status location in .*nginx\.conf:\d+/
