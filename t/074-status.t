# upbot_status: a code's JSON in each case (static, live fresh, stale and
# expired against util/mock-im.pl, a sticky visitor, a fallback answered
# because the others are full, down or expired), the reasons of the groups
# passed over, the funnel after a scripted visit, an unknown code, the
# summary, the HTML page (Accept, ?format=html) with every string escaped,
# no secret in any output; and the location's configuration errors.  The
# page loaded by headless Chromium: t/076-status-chromium.t.

use lib 't/lib';
use MockIM;
use MediaInfo qw(req visit);
use Test::Nginx::Socket 'no_plan';

log_level('info');

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => {
                 '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://j/full' }] },
                 '@TGS#a'    => { Name => 'a', MemberNum => 5, MaxMemberNum => 200,
                                  FaceUrl => 'https://cdn/a.png',
                                  AppDefinedData => [{ Key => 'url', Value => 'https://j/a' }] },
                 '@TGS#xss'  => { Name => '<script>alert("x")</script>', MemberNum => 1,
                                  MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://j/x?a=1&b=2' }] },
             } },
});

# a group expiring within the day
$ENV{TEST_NGINX_SOON} = time() + 3600;

# all of the fragments, anywhere, in any order
sub has {
    my $p = join '', map { "(?=.*\Q$_\E)" } @_;
    return qr/\A$p/s;
}

# none of the patterns, anywhere
sub lacks {
    my $p = join '|', @_;
    return qr/\A(?!.*(?:$p))/s;
}

# the pool's line of group $index ($id) holds every fragment
sub group {
    my ($index, $id, @frags) = @_;
    my $p = join '', map { "(?=[^\\n]*\Q$_\E)" } @frags;
    return "(?=.*^\\{\"index\":$index,\"id\":\"\Q$id\E\",$p)";
}

sub pool {
    my $p = join '', @_;
    return qr/\A$p/ms;
}

# a batch of [event_id, code, trace id] items
sub events {
    my @items = map { "{\"event_id\":\"$_->[0]\",\"code\":\"$_->[1]\","
                      . "\"trace_id\":\"$_->[2]\"}" } @_;
    return "POST /e\n{\"head\":{\"account_info\":{\"account_type\":2,"
           . "\"appid\":\"a\",\"openid\":\"o\"}},\"items\":["
           . join(',', @items) . "]}";
}

# GetMediaInfo of a code and trace id
sub show {
    my ($code, $trace) = @_;
    my $r = req($code);
    $r =~ s/"trace_id":"t"/"trace_id":"$trace"/;
    return $r;
}

sub pause { "POST /mock/sleep\n{\"ms\":$_[0]}" }

our $Secrets = 'tim-test-key|t0k3n|usersig|sdkappid|1400000000|secret';

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_zone         upbot:1m;
    upbot_cache        ttl=1s stale=3s retry=1ms;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_attribution  on;
    upbot_sticky       ttl=1h;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim timeout=1s;

    upbot_codes {
        st      static  g1  url=https://x/st1 "name=<script>alert(1)</script>"
                            members=200 max_members=200 metrics;
        st      static  g2  url=https://x/st2 name=two max_views=1
                            background=https://x/bg.png;
        st      static  kf  url=https://x/kf name=service fallback;

        fb      static  d1  url=https://x/d1 down;
        fb      static  f1  url=https://x/f1 threshold=10 members=10;
        fb      static  e1  url=https://x/e1 expires=1600000000;
        fb      static  kf  url=https://x/kf fallback;

        none    static  d1  url=https://x/d1 down;
        none    static  kf  url=https://x/kf fallback down;

        stick   static  s1  url=https://x/s1 max_views=2;
        stick   static  s2  url=https://x/s2;

        funnel  static  g1  url=https://x/fun1 metrics max_scans=5;
        funnel  static  g2  url=https://x/fun2;

        soon    static  g1  url=https://x/soon expires=$TEST_NGINX_SOON
                            hours=00:00-24:00;

        live    tim:prod  @TGS#full;
        live    tim:prod  @TGS#a     threshold=100;

        xss     tim:prod  @TGS#xss;

        "a<b>&\"c"  static  g1  url=https://x/odd;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Pick $upbot_pick always;
    }
    location = /e {
        upbot_report_media_event;
        upbot_event_log  $TEST_NGINX_SERVER_ROOT/logs/events.jsonl;
    }
    location = /status {
        upbot_status;
    }
    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
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

=== TEST 1: a static pool: the configured overrides and options, the first group full by members, the second answered, its views; the content type
--- request
GET /status?code=st
--- response_headers
Content-Type: application/json
Vary: Accept
Cache-Control: no-store
--- response_body_like eval
main::pool(
    main::has('{"code":"st","media_type":2,"metrics":true,"sticky":true,',
              '"answer":{"index":2,"id":"g2","pick":"switched","url":"https://x/st2","name":"two","background":"https://x/bg.png"}',
              '"skipped":[{"index":1,"id":"g1","reason":"full"}],"fetch":[]',
              '"funnel":{"total":{"answer":0,"exposure":0,"long_press":0,"jump":0},"groups":[]}'),
    main::group(1, "g1", '"source":"static"',
                '"configured":{"url":"https://x/st1","name":"<script>alert(1)</script>","background":""}',
                '"threshold":null,"max_views":null,"views":null,"max_scans":null,"scans":null,"expires":null,"expires_unix":null,"hours":null,"down":false,"fallback":false}',
                '"facts":{"name":"","url":"","background":"","members":200,"max_members":200,"gone":false}',
                '"age_ms":null,"cache":"static","fetching":false,"failed":false,"state":"full"}'),
    main::group(2, "g2", '"max_views":1,"views":0,', '"state":"usable"}'),
    main::group(3, "kf", '"fallback":true}', '"state":"usable"}'))



=== TEST 2: once g2's only view is taken, the fallback is answered: g1 and g2 full; the status itself takes no view
--- request eval
["GET /status?code=st", main::req("st"), "GET /status?code=st",
 "GET /status?code=st"]
--- response_body_like eval
[qr/"answer":\{"index":2,"id":"g2"/, qr{https://x/st2},
 main::pool(
    main::has('"answer":{"index":3,"id":"kf","pick":"fallback","url":"https://x/kf","name":"service","background":""}',
              '"skipped":[{"index":1,"id":"g1","reason":"full"},{"index":2,"id":"g2","reason":"full"}]'),
    main::group(2, "g2", '"max_views":1,"views":1,', '"state":"full"}')),
 main::pool(main::group(2, "g2", '"max_views":1,"views":1,', '"state":"full"}'))]



=== TEST 3: a fallback answered because the others are down, full (threshold) and expired: each one's reason
--- request eval
["GET /status?code=fb", main::req("fb")]
--- response_body_like eval
[main::pool(
    main::has('"answer":{"index":4,"id":"kf","pick":"fallback"',
              '"skipped":[{"index":1,"id":"d1","reason":"down"},{"index":2,"id":"f1","reason":"full"},{"index":3,"id":"e1","reason":"expired"}]'),
    main::group(1, "d1", '"down":true', '"state":"down"}'),
    main::group(2, "f1", '"threshold":10,', '"members":10,', '"state":"full"}'),
    main::group(3, "e1", '"expires":"2020-09-13T20:26:40+08:00","expires_unix":1600000000,', '"state":"expired"}')),
 qr{https://x/kf}]
--- response_headers eval
[{}, { "X-Pick" => "fallback" }]



=== TEST 4: nothing usable, not even the fallback: no answer, and why
--- request eval
["GET /status?code=none", main::req("none")]
--- response_body_like eval
[main::has('"answer":null,"why":"no usable group and no usable fallback"',
           '"skipped":[{"index":1,"id":"d1","reason":"down"},{"index":2,"id":"kf","reason":"down"}]'),
 qr/"ret":1004/]
--- error_code eval
[200, 409]



=== TEST 5: a live pool before any request: no facts, nothing fetched by the status page (the next GetMediaInfo is a MISS), states unknown
--- request eval
["GET /status?code=live", "GET /status?code=live", main::req("live")]
--- response_body_like eval
[main::pool(
    main::has('"answer":null,', '"fetch":["@TGS#full","@TGS#a"]'),
    main::group(1, '@TGS#full', '"source":"tim:prod"', '"facts":null,"age_ms":null,"cache":"none","fetching":false,"failed":false,"state":"unknown"}'),
    main::group(2, '@TGS#a', '"threshold":100,', '"facts":null', '"cache":"none"', '"state":"unknown"}')),
 main::has('"cache":"none"', '"answer":null'),
 qr{https://j/a}]
--- response_headers eval
[{}, {}, { "X-Cache" => "MISS" }]



=== TEST 6: live, fresh: the provider's facts, their age, the group full by members passed over
--- request eval
[main::req("live"), "GET /status?code=live"]
--- response_body_like eval
[qr{https://j/a},
 main::pool(
    main::has('"answer":{"index":2,"id":"@TGS#a","pick":"switched","url":"https://j/a","name":"a","background":"https://cdn/a.png"}',
              '"skipped":[{"index":1,"id":"@TGS#full","reason":"full"}],"fetch":[]'),
    main::group(1, '@TGS#full', '"facts":{"name":"full","url":"https://j/full","background":"","members":200,"max_members":200,"gone":false},"age_ms":', '"cache":"fresh"', '"state":"full"}'),
    main::group(2, '@TGS#a', '"facts":{"name":"a","url":"https://j/a","background":"https://cdn/a.png","members":5,"max_members":200,"gone":false}', '"cache":"fresh"', '"state":"usable"}'))]



=== TEST 7: live, stale (ttl=1s passed, stale=3s not): the same facts, older, still usable
--- request eval
[main::req("live"), main::pause(1100), "GET /status?code=live"]
--- response_body_like eval
[qr{https://j/a}, qr//,
 main::pool(
    main::has('"answer":{"index":2,"id":"@TGS#a"'),
    main::group(1, '@TGS#full', '"members":200', '"age_ms":', '"cache":"stale"', '"state":"full"}'),
    main::group(2, '@TGS#a', '"cache":"stale"', '"state":"usable"}'))]
--- timeout: 6



=== TEST 8: live, expired (past ttl + stale): no facts at hand, a request would fetch both first
--- request eval
[main::req("live"), main::pause(4300), "GET /status?code=live", main::req("live")]
--- response_body_like eval
[qr{https://j/a}, qr//,
 main::pool(
    main::has('"answer":null,', '"fetch":["@TGS#full","@TGS#a"]'),
    main::group(1, '@TGS#full', '"facts":null,"age_ms":', '"cache":"expired"', '"state":"unknown"}'),
    main::group(2, '@TGS#a', '"facts":null,"age_ms":', '"cache":"expired"', '"state":"unknown"}')),
 qr{https://j/a}]
--- response_headers eval
[{}, {}, {}, { "X-Cache" => "EXPIRED" }]
--- timeout: 10



=== TEST 9: with upbot_sticky: the status answers for an anonymous first-time visitor, takes no view, and a returning visitor still gets its group
--- request eval
[main::visit("stick", "v1"), "GET /status?code=stick", main::visit("stick", "v1"),
 "GET /status?code=stick", main::visit("stick", "v2"), "GET /status?code=stick",
 main::visit("stick", "v1")]
--- response_body_like eval
[qr{https://x/s1},
 main::pool(main::has('"sticky":true', '"answer":{"index":1,"id":"s1","pick":"first"'),
            main::group(1, "s1", '"max_views":2,"views":1,', '"state":"usable"}')),
 qr{https://x/s1},
 main::pool(main::group(1, "s1", '"max_views":2,"views":1,')),
 qr{https://x/s1},
 main::pool(main::has('"answer":{"index":2,"id":"s2","pick":"switched"',
                      '"skipped":[{"index":1,"id":"s1","reason":"full"}]'),
            main::group(1, "s1", '"max_views":2,"views":2,', '"state":"full"}')),
 qr{https://x/s2}]
--- response_headers eval
[{ "X-Pick" => "first" }, {}, { "X-Pick" => "sticky" }, {}, { "X-Pick" => "first" }, {},
 { "X-Pick" => "switched" }]



=== TEST 10: the funnel after a scripted visit: answer, exposure, long-press, jump of the group shown (upbot_attribution), an event of an unknown trace in the "" slot; the long-press counts a scan
--- request eval
[main::show("funnel", "tr-1"),
 main::events(["1110201", "funnel", "tr-1"], ["1110204", "funnel", "tr-1"],
              ["1100102", "funnel", "tr-1"], ["1110201", "funnel", "tr-other"]),
 "GET /status?code=funnel"]
--- response_body_like eval
[qr{https://x/fun1}, qr/"ret":0/,
 main::pool(
    main::has('"funnel":{"total":{"answer":1,"exposure":2,"long_press":1,"jump":1},"groups":[',
              '{"id":"g1","steps":{"answer":1,"exposure":1,"long_press":1,"jump":1}}',
              '{"id":"g2","steps":{"answer":0,"exposure":0,"long_press":0,"jump":0}}',
              '{"id":"","steps":{"answer":0,"exposure":1,"long_press":0,"jump":0}}]}'),
    main::group(1, "g1", '"max_scans":5,"scans":1,', '"state":"usable"}'))]



=== TEST 11: an unknown code: 404 with a JSON error, the code escaped
--- request eval
["GET /status?code=nope", "GET /status?code=no%22pe"]
--- error_code eval
[404, 404]
--- response_headers eval
[{ "Content-Type" => "application/json" }, {}]
--- response_body eval
["{\"error\":\"unknown code\",\"code\":\"nope\"}\n",
 "{\"error\":\"unknown code\",\"code\":\"no\\\"pe\"}\n"]



=== TEST 12: a code with characters to escape, given escaped in the query: JSON and HTML
--- request eval
["GET /status?code=a%3Cb%3E%26%22c", "GET /status?code=a%3Cb%3E%26%22c&format=html"]
--- response_body_like eval
[main::has('{"code":"a<b>&\"c",'),
 main::has('<h1>Code <code>a&lt;b&gt;&amp;&quot;c</code></h1>')]



=== TEST 13: the summary: codes, groups by state, groups expiring within 24 h, providers' counters, the zone, the flagged codes' funnels
--- request eval
[main::req("live"), main::req("st"), "GET /status"]
--- response_body_like eval
[qr{https://j/a}, qr{https://x/st2},
 main::has('{"version":"0.1.0","now":"', '"codes":9,',
           '"groups":{"usable":9,"full":4,"down":3,"expired":1,"closed":0,"unknown":1,"gone":0,"expiring":1}',
           '"expiring":[' . "\n" . '{"code":"soon","id":"g1","expires":"',
           '],"expiring_listed":1,',
           '"providers":[' . "\n" . '{"app":"tim:prod","provider":"tim","calls":{"ok":1,"refused":0,"invalid":0,"too_big":0,"http_error":0,"failed":0,"timeout":0,"paced":0},"groups":{"ok":2,"gone":0,"missing":0,"other":0}}]',
           '"zone":{"used":', ',"size":1048576}',
           '"cache":{"ttl_ms":1000,"stale_ms":3000}',
           '{"code":"st","steps":{"answer":1,"exposure":0,"long_press":0,"jump":0}}',
           '{"code":"funnel","steps":{"answer":0,'),
 ]



=== TEST 14: HTML by Accept: the code's page, its pool with each state and the reason skipped, the funnel as bars; strings from the configuration and the provider escaped
--- request eval
[main::req("xss"), main::show("st", "h1"), "GET /status?code=st", "GET /status?code=xss"]
--- more_headers eval
["Content-Type: application/json\nAuthorization: t0k3n",
 "Content-Type: application/json\nAuthorization: t0k3n",
 "Accept: text/html,application/xhtml+xml,*/*;q=0.8",
 "Accept: text/html"]
--- response_headers eval
[{}, {}, { "Content-Type" => "text/html; charset=utf-8", "Vary" => "Accept" },
 { "Content-Type" => "text/html; charset=utf-8" }]
--- response_body_like eval
[qr{https://j/x}, qr{https://x/st2},
 main::has('<!DOCTYPE html>', '<h1>Code <code>st</code></h1>',
           '<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>',
           '<td class="state s-full">full</td><td>full</td></tr>',
           '<td class="state s-usable">usable</td><td>answered</td></tr>',
           '<tr class="step"><th>answer</th><td class="n">1</td><td class="track"><div class="bar b0" style="width:100%">',
           '<tr class="step"><th>exposure</th><td class="n">0</td>',
           '</html>'),
 main::has('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;',
           'https://j/x?a=1&amp;b=2',
           '<td class="state s-usable">usable</td><td>answered</td></tr>')]



=== TEST 15: HTML by ?format=html: no script of the page's strings, nothing fetched from elsewhere
--- request eval
[main::req("xss"), "GET /status?code=xss&format=html", "GET /status?code=st&format=html",
 "GET /status?format=html"]
--- response_body_like eval
[qr{https://j/x},
 main::lacks('<script', '<link', '<img', 'src=', '@import', 'url\('),
 main::lacks('<script', '<link', '<img', 'src=', '@import', 'url\('),
 main::has('<h1>upbot status</h1>', '<table id="groups">',
           '<a href="?format=html&amp;code=st"><code>st</code></a>',
           '<a href="?format=html&amp;code=a%3Cb%3E%26%22c"><code>a&lt;b&gt;&amp;&quot;c</code></a>',
           '<td>tim:prod</td><td>1</td>',
           '<td><a href="?format=html&amp;code=soon"><code>soon</code></a></td><td><code>g1</code></td>',
           'Codes flagged "metrics" (2)', '7 of 7, in the index')]



=== TEST 16: ?format=json wins over Accept; another format is refused
--- request eval
["GET /status?format=json", "GET /status?code=st&format=xml"]
--- more_headers eval
["Accept: text/html", ""]
--- error_code eval
[200, 400]
--- response_headers eval
[{ "Content-Type" => "application/json" }, { "Content-Type" => "application/json" }]
--- response_body_like eval
[qr/^\{"version"/, qr/format= is json or html/]



=== TEST 17: no key, secret, UserSig or token in any output, after provider calls
--- request eval
[main::req("live"), main::req("xss"), "GET /status", "GET /status?code=live",
 "GET /status?code=xss", "GET /status?format=html", "GET /status?code=live&format=html",
 "GET /status?code=nope"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404]
--- response_body_like eval
[qr{https://j/a}, qr{https://j/x},
 main::lacks($main::Secrets), main::lacks($main::Secrets), main::lacks($main::Secrets),
 main::lacks($main::Secrets), main::lacks($main::Secrets), main::lacks($main::Secrets)]



=== TEST 18: GET and HEAD only
--- request eval
["POST /status\nx", "HEAD /status?code=st"]
--- error_code eval
[405, 200]
--- response_headers eval
[{}, { "Content-Type" => "application/json" }]
--- response_body eval
[qr/405/, ""]



=== TEST 19: upbot_status without upbot_zone: nginx -t says where, as for upbot_metrics
--- http_config
    upbot_codes {
        c  static  g  url=https://x/c;
    }
--- config
    location = /status {
        upbot_status;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*the metrics and the status page need "upbot_zone" for their counters, in .*nginx\.conf:\d+/



=== TEST 20: upbot_status in an API location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /m {
        upbot_auth_tokens off;
        upbot_get_media_info;
        upbot_status;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_status" directive is not allowed in an API location in .*nginx\.conf:\d+/



=== TEST 21: an API directive after upbot_status in its location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /m {
        upbot_auth_tokens off;
        upbot_status;
        upbot_get_media_info;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_get_media_info" directive is not allowed in an upbot_metrics or upbot_status location in .*nginx\.conf:\d+/



=== TEST 22: upbot_status twice in a location
--- http_config
    upbot_zone  upbot:1m;
--- config
    location = /status {
        upbot_status;
        upbot_status;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"upbot_status" directive is duplicate in .*nginx\.conf:\d+/
