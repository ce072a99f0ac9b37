# GetMediaInfo on Tencent Cloud IM groups, against util/mock-im.pl, which
# checks each call as Tencent does (UserSig HMAC and expiry, sdkappid,
# identifier, random, contenttype, at most 50 groups).  The mock's call
# log is read through GET /calls; faults are set before a block by its
# mock_fault and mock_group sections (t/lib/MockIM.pm).

use lib 't/lib';
use MockIM;
use SpreadPick qw(spread_pick);
use Test::Nginx::Socket 'no_plan';

log_level("info");

our %Groups = (
    '@TGS#full' => { Name => '满了的群', FaceUrl => 'https://img.example.com/full.png',
                     MemberNum => 200, MaxMemberNum => 200, Type => 'Public',
                     AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/full' }] },
    '@TGS#a'    => { Name => '火影忍者-A群', FaceUrl => 'https://img.example.com/a.png',
                     MemberNum => 5, MaxMemberNum => 200, Type => 'Public',
                     Introduction => 'not asked for',
                     AppDefinedData => [{ Key => 'other', Value => 'x' },
                                        { Key => 'url', Value => 'https://join.example.com/a' }] },
    '@TGS#b'    => { Name => 'B', MemberNum => 189, MaxMemberNum => 2000,
                     AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/b' }] },
    '@TGS#bare' => { Name => 'bare', MemberNum => 1, MaxMemberNum => 200 },
    '@TGS#quote' => { Name => "say \"hi\" back\\slash\n\t\x01 end", FaceUrl => 'https://img.example.com/q.png',
                      MemberNum => 1, MaxMemberNum => 200,
                      AppDefinedData => [{ Key => 'url', Value => 'https://join.example.com/q?a="1"' }] },
    '@TGS#gone' => { ErrorCode => 10010 },
    '@TGS#badid' => { ErrorCode => 10015 },
    '@TGS#err'  => { ErrorCode => 10002 },
);

# a pool of 120: the first 119 full, the last one not
for my $i (1 .. 120) {
    $Groups{sprintf '@TGS#p%03d', $i} = {
        Name => "p$i", MemberNum => $i < 120 ? 200 : 10, MaxMemberNum => 200,
        AppDefinedData => [{ Key => 'url', Value => "https://join.example.com/p$i" }] };
}

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'tim-test-key', identifier => 'admin' } },
             groups => \%Groups },
});

our $Pool120 = join '', map { sprintf "        c120  tim:prod  \@TGS#p%03d;\n", $_ } 1 .. 120;

sub req {
    my ($code, $openid) = @_;
    $openid //= 'o';
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"$openid\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t-live\"}";
}

sub ok_body {
    my ($url, $name, $bg) = @_;
    return qr/^\Q{"ret":0,"msg":"","data":{"url":"$url","name":"$name","background":"$bg"}}\E$/;
}

our $Failed = qr/^\Q{"ret":1005,"msg":"服务繁忙，请稍后再试"}\E$/;

# twelve users on a spread pool, each asked twice: only the usable groups
# (@TGS#a, @TGS#b) take part in the draw
our @SpreadUsers = map { ("openid-$_") x 2 } 1 .. 12;
our @SpreadReqs = map { my $r = req("cs", $_); $r =~ s{^POST /m}{POST /spread}; $r } @SpreadUsers;
our @SpreadPicks = map { spread_pick($_, '@TGS#a', '@TGS#b') } @SpreadUsers;

die "spread test data is degenerate\n" unless grep({ $_ eq '@TGS#a' } @SpreadPicks)
                                               && grep({ $_ eq '@TGS#b' } @SpreadPicks);

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<"_EOC_") unless defined $block->http_config;
    upbot_zone  upbot:1m;
    upbot_cache  ttl=60s stale=10m;
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_tim  dead  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/dead;

    upbot_codes {
        c1  tim:prod  \@TGS#full;
        c1  tim:prod  \@TGS#a;

        c2  tim:prod  \@TGS#gone;
        c2  tim:prod  \@TGS#badid;
        c2  tim:prod  \@TGS#a;

        c3  tim:prod  \@TGS#b  threshold=190;
        c3  tim:prod  \@TGS#a;

        c4  tim:prod  \@TGS#gone;

        c5  tim:prod  \@TGS#err;

        c6  tim:prod  \@TGS#a  url=https://mine.example.com/a name=Mine "background=https://mine.example.com/bg.png";

        c7  tim:prod  \@TGS#bare;

        cq  tim:prod  \@TGS#quote;

        c8  static    s1  url=https://static.example.com/1 down;
        c8  tim:prod  \@TGS#a;

        cd  tim:dead  \@TGS#a;

        cs  tim:prod  \@TGS#full;
        cs  tim:prod  \@TGS#a;
        cs  tim:prod  \@TGS#gone;
        cs  tim:prod  \@TGS#b;

        cv  tim:prod  \@TGS#a  max_views=2;
        cv  tim:prod  \@TGS#full;
        cv  tim:prod  \@TGS#b  threshold=1;
        cv  static    kf  url=https://kf.example.com/ fallback;
$::Pool120
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Cache $upbot_cache_status always;
        add_header X-Group $upbot_group always;
        add_header X-Error $upbot_error always;
    }

    location = /spread {
        upbot_get_media_info;
        upbot_pick spread;
        add_header X-Group $upbot_group always;
    }

    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
        proxy_read_timeout 1s;
        subrequest_output_buffer_size 1m;
    }

    location = /_upbot/dead {
        internal;
        proxy_pass http://127.0.0.1:1/v4/group_open_http_svc/get_group_info$is_args$args;
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

=== TEST 1: live facts: a full group is skipped, name, avatar and join link come from Tencent; then a hit
--- request eval
[main::req("c1"), main::req("c1"), "GET /calls"]
--- response_body_like eval
[main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png"),
 main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png"),
 qr/\A[^\n]*"result":"ok"[^\n]*\n\z/]
--- response_headers eval
["X-Cache: MISS\nX-Group: \@TGS#a", "X-Cache: HIT\nX-Group: \@TGS#a", ""]
--- no_error_log
[error]
tim-test-key
t0k3n



=== TEST 2: the call is what Tencent expects: POST, the query, the UserSig, the filtered body; no client header goes along
--- request eval
[main::req("c1"), "GET /calls"]
--- response_body_like eval
[qr/"ret":0/,
 qr/\A\{"body":"\{\\"GroupIdList\\":\[\\"\@TGS#full\\",\\"\@TGS#a\\"\],\\"ResponseFilter\\":\{\\"GroupBaseInfoFilter\\":\[\\"Name\\",\\"FaceUrl\\",\\"MemberNum\\",\\"MaxMemberNum\\"\],\\"AppDefinedDataFilter_Group\\":\[\\"url\\"\]\}\}","group_ids":\["\@TGS#full","\@TGS#a"\],"headers":\{"content-length":"\d+","content-type":"application\/json","host":"127\.0\.0\.1:\d+"\},"method":"POST","path":"\/v4\/group_open_http_svc\/get_group_info","provider":"tim","query":\{"contenttype":"json","identifier":"admin","random":"\d+","sdkappid":"1400000000","usersig":"[A-Za-z0-9*_-]+"\},"result":"ok","time":[\d.]+,"usersig":\{"TLS\.expire":86400,"TLS\.identifier":"admin","TLS\.sdkappid":1400000000,"TLS\.sig":"[A-Za-z0-9+\/=]{44}","TLS\.time":\d+,"TLS\.ver":"2\.0"\}\}\n\z/]



=== TEST 3: every call has a fresh random; the UserSig is reused
--- request eval
[main::req("c1"), "POST /mock/sleep\n{\"ms\":10}", main::req("c2"), "GET /calls"]
--- response_body_like eval
[qr/"ret":0/, qr/ok/, qr/"ret":0/,
 qr/\A[^\n]*"random":"(\d+)"[^\n]*"usersig":"([^"]+)"[^\n]*\n[^\n]*"random":"(?!\1")\d+"[^\n]*"usersig":"\2"[^\n]*\n\z/]



=== TEST 4: groups that are gone or never existed are skipped
--- request eval
[main::req("c2"), main::req("c4")]
--- response_body_like eval
[main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png"),
 qr/^\Q{"ret":1004,"msg":"群已满"}\E$/]
--- error_code eval
[200, 409]



=== TEST 5: a threshold below Tencent's maximum
--- request eval
main::req("c3")
--- response_body_like eval
main::ok_body("https://join.example.com/b", "B", "")
--- response_headers
X-Group: @TGS#b



=== TEST 6: the row's url, name and background win over Tencent's
--- request eval
main::req("c6")
--- response_body_like eval
main::ok_body("https://mine.example.com/a", "Mine", "https://mine.example.com/bg.png")



=== TEST 7: no custom url field and no url= in the row: an empty url
--- request eval
main::req("c7")
--- response_body_like eval
main::ok_body("", "bare", "")



=== TEST 8: a pool mixing a static group (down) and a live one
--- request eval
main::req("c8")
--- response_body_like eval
main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png")
--- response_headers
X-Cache: MISS



=== TEST 9: a pool of 120 groups is three calls, of 50, 50 and 20
--- request eval
[main::req("c120"), "GET /calls"]
--- response_body_like eval
[main::ok_body("https://join.example.com/p120", "p120", ""),
 qr/\A(?=(?:[^\n]*\n){3}\z)(?=(?:[\s\S]*?"group_ids":\[(?:"\@TGS#p\d{3}",?){50}\]){2})(?=[\s\S]*"group_ids":\[(?:"\@TGS#p\d{3}",?){20}\])/]



=== TEST 10: a group's own error code other than "gone" is a provider failure
--- request eval
main::req("c5")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: group "@TGS#err" failed with provider error 10002, trace id "t-live"



=== TEST 11: a top-level error: 1005 and one line naming the app, the code and the trace id
--- mock_fault
{"provider":"tim","mode":"error","code":10002}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10002 "injected error 10002" (groups: 2), trace id "t-live"
--- no_error_log
tim-test-key



=== TEST 12: HTTP 500 from Tencent
--- mock_fault
{"provider":"tim","mode":"http500"}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the call failed: HTTP 500 (groups: 2), trace id "t-live"



=== TEST 13: connection refused
--- request eval
main::req("cd")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log eval
[qr/connect\(\) failed .* upstream: "http:\/\/127\.0\.0\.1:1\/v4\/group_open_http_svc\/get_group_info"/,
 "upbot: tim:dead: the call failed"]
--- no_error_log
usersig



=== TEST 14: no answer within proxy_read_timeout: 504
--- mock_fault
{"provider":"tim","mode":"hang"}
--- request eval
main::req("c1")
--- error_code: 504
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the call failed
upstream timed out
--- no_error_log
usersig
--- timeout: 5



=== TEST 15: garbage
--- mock_fault
{"provider":"tim","mode":"garbage"}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the answer is not understood



=== TEST 16: truncated JSON
--- mock_fault
{"provider":"tim","mode":"truncated"}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the answer is not understood



=== TEST 17: a connection closed halfway through the answer
--- mock_fault
{"provider":"tim","mode":"short"}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the answer is not understood: parse error: premature EOF



=== TEST 18: an answer over subrequest_output_buffer_size (1 MB)
--- mock_fault
{"provider":"tim","mode":"big","size":1100000}
--- request eval
main::req("c1")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the call failed



=== TEST 19: an answer of 900 KB is fine
--- mock_fault
{"provider":"tim","mode":"big","size":900000}
--- request eval
main::req("c1")
--- error_code: 200
--- response_body_like eval
main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png")



=== TEST 20: an answer trickling in 64-byte pieces
--- mock_fault
{"provider":"tim","mode":"slow","chunk":64,"every_ms":5}
--- request eval
main::req("c1")
--- response_body_like eval
main::ok_body("https://join.example.com/a", "火影忍者-A群", "https://img.example.com/a.png")



=== TEST 21: after a failure the group is not asked again for "retry"; 1005 at once
--- mock_fault
{"provider":"tim","mode":"http500","count":1}
--- request eval
[main::req("c1"), main::req("c1"), "GET /calls"]
--- error_code eval
[502, 502, 200]
--- response_body_like eval
[$::Failed, $::Failed, qr/\A[^\n]*\n\z/]


=== TEST 22: a group's own error 10003 is a provider failure
--- mock_group
{"provider":"tim","id":"@TGS#a","ErrorCode":10003}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: group "@TGS#a" failed with provider error 10003, trace id "t-live"


=== TEST 23: a group's own error 10004 is a provider failure
--- mock_group
{"provider":"tim","id":"@TGS#a","ErrorCode":10004}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: group "@TGS#a" failed with provider error 10004, trace id "t-live"


=== TEST 24: a group's own error 10007 is a provider failure
--- mock_group
{"provider":"tim","id":"@TGS#a","ErrorCode":10007}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: group "@TGS#a" failed with provider error 10007, trace id "t-live"


=== TEST 25: a group's own error 10018 is a provider failure
--- mock_group
{"provider":"tim","id":"@TGS#a","ErrorCode":10018}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: group "@TGS#a" failed with provider error 10018, trace id "t-live"


=== TEST 26: a top-level error 10003 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10003}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10003 "injected error 10003" (groups: 1), trace id "t-live"


=== TEST 27: a top-level error 10004 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10004}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10004 "injected error 10004" (groups: 1), trace id "t-live"


=== TEST 28: a top-level error 10007 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10007}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10007 "injected error 10007" (groups: 1), trace id "t-live"


=== TEST 29: a top-level error 10010 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10010}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10010 "injected error 10010" (groups: 1), trace id "t-live"


=== TEST 30: a top-level error 10015 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10015}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10015 "injected error 10015" (groups: 1), trace id "t-live"


=== TEST 31: a top-level error 10018 is a provider failure
--- mock_fault
{"provider":"tim","mode":"error","code":10018}
--- request eval
main::req("c6")
--- error_code: 502
--- response_body_like eval
$::Failed
--- error_log
upbot: tim:prod: the provider refused the call: provider error 10018 "injected error 10018" (groups: 1), trace id "t-live"



=== TEST 32: spread: users keep one group each, over the usable groups only, and use more than one
--- request eval
\@::SpreadReqs
--- response_body_like eval
[map { qr/"ret":0/ } @::SpreadReqs]
--- response_headers eval
[map { "X-Group: $_" } @::SpreadPicks]
--- no_error_log
[error]



=== TEST 33: a group's strings that need escaping are escaped, from the call, the cache and the worker's view alike
--- request eval
[main::req("cq"), main::req("cq"), main::req("cq")]
--- response_body_like eval
[(main::ok_body('https://join.example.com/q?a=\"1\"', 'say \"hi\" back\\\\slash\n\t\u0001 end',
                'https://img.example.com/q.png')) x 3]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 34: the worker's view of a pool from a first pick (two of its four groups walked) does not answer a spread pick, which needs all four; first picks after it come from the view of all four
--- request eval
[main::req("cs"), main::req("cs"), main::req("cs"), @::SpreadReqs, main::req("cs")]
--- response_body_like eval
[(main::ok_body('https://join.example.com/a', '火影忍者-A群', 'https://img.example.com/a.png')) x 3,
 (map { qr/"ret":0/ } @::SpreadReqs),
 main::ok_body('https://join.example.com/a', '火影忍者-A群', 'https://img.example.com/a.png')]
--- response_headers eval
["X-Cache: MISS\nX-Group: \@TGS#a", ("X-Cache: HIT\nX-Group: \@TGS#a") x 2,
 (map { "X-Group: $_" } @::SpreadPicks),
 "X-Cache: HIT\nX-Group: \@TGS#a"]
--- no_error_log
[error]



=== TEST 35: a view of a pool with a static group in it: the static group's facts are the configuration's
--- request eval
[main::req("c8"), main::req("c8"), main::req("c8")]
--- response_body_like eval
[(main::ok_body('https://join.example.com/a', '火影忍者-A群', 'https://img.example.com/a.png')) x 3]
--- response_headers eval
["X-Cache: MISS\nX-Group: \@TGS#a", ("X-Cache: HIT\nX-Group: \@TGS#a") x 2]
--- no_error_log
[error]



=== TEST 36: live rules together: max_views= on a live group, the provider's capacity, a threshold, then the fallback
--- request eval
[main::req("cv"), main::req("cv"), main::req("cv"), main::req("cv")]
--- response_body_like eval
[qr{"url":"https://join\.example\.com/a"}, qr{"url":"https://join\.example\.com/a"},
 qr{"url":"https://kf\.example\.com/"}, qr{"url":"https://kf\.example\.com/"}]
--- response_headers eval
["X-Group: \@TGS#a", "X-Group: \@TGS#a", "X-Group: kf", "X-Group: kf"]



=== TEST 37: a sticky visitor on a live pool
--- http_config
    upbot_zone  upbot:1m;
    upbot_sticky  ttl=1h;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/tim;
    upbot_tim  dead  sdkappid=1400000000 identifier=admin key=tim-test-key
                     location=/_upbot/dead;
    upbot_codes {
        st  tim:prod  @TGS#a  max_views=2;
        st  tim:prod  @TGS#b;
    }
--- request eval
[main::req("st", "x"), main::req("st", "x"), main::req("st", "y"),
 main::req("st", "z"), main::req("st", "x")]
--- response_headers eval
["X-Group: \@TGS#a", "X-Group: \@TGS#a", "X-Group: \@TGS#a",
 "X-Group: \@TGS#b", "X-Group: \@TGS#b"]
