# Picking a group of a code's pool on static facts.

use lib 't/lib';
use MediaInfo qw(req ans);
use SpreadPick qw(spread_pick);
use Test::Nginx::Socket 'no_plan';

log_level('info');

our @Users = map { "openid-$_" } 1 .. 12;
our @Picks = map { spread_pick($_, "s1", "s2", "s3") } @Users;

# the users must not all land on one group, or the test proves little
my %seen = map { $_ => 1 } @Picks;
die "spread test data is degenerate\n" if keys %seen < 2;

sub spread_req {
    my $r = req(@_);
    $r =~ s{^POST /m}{POST /spread};
    return $r;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        # by capacity: g1 full, g2 has room
        cap     static  g1  url=https://x/cap1 members=200 max_members=200;
        cap     static  g2  url=https://x/cap2 members=199 max_members=200;

        # by threshold, whatever the capacity
        thr     static  g1  url=https://x/thr1 members=190 max_members=500 threshold=190;
        thr     static  g2  url=https://x/thr2 members=189 threshold=190;

        # taken down by the operator
        down    static  g1  url=https://x/down1 down;
        down    static  g2  url=https://x/down2;

        # no facts about members: usable
        open    static  g1  url=https://x/open1;

        # all full
        full    static  g1  url=https://x/full1 members=5 threshold=5;
        full    static  g2  url=https://x/full2 down;

        # pool order is configuration order, not id order
        order   static  zz  url=https://x/zz;
        order   static  aa  url=https://x/aa;

        # codes are case-sensitive
        Case    static  g1  url=https://x/Case;
        case    static  g1  url=https://x/case;
        CASE    static  g1  url=https://x/CASE;

        # groups without ids are named by place
        anon    static  -   url=https://x/anon1 down;
        anon    static  -   url=https://x/anon2 name=second;

        "uni"   static  g1  "url=https://x/u?a=1&b=2" "name=火影 忍者 \"俱乐部\"" background=https://cdn/bg.png;
    }
    upbot_codes {
        # a second block adds rows; rows of "cap" keep coming after the first ones
        cap     static  g3  url=https://x/cap3;
        spread  static  s1  url=https://x/s1;
        spread  static  s2  url=https://x/s2;
        spread  static  s3  url=https://x/s3;
    }
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
        add_header X-Error $upbot_error always;
    }
    location = /spread {
        upbot_pick spread;
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a full group (members at capacity) is skipped
--- request eval
main::req("cap")
--- response_body eval
main::ans("https://x/cap2")
--- response_headers
X-Group: g2



=== TEST 2: a group at its threshold is full even below capacity
--- request eval
main::req("thr")
--- response_body eval
main::ans("https://x/thr2")
--- response_headers
X-Group: g2



=== TEST 3: a group marked down is skipped
--- request eval
main::req("down")
--- response_body eval
main::ans("https://x/down2")



=== TEST 4: a group with no member facts is usable
--- request eval
main::req("open")
--- response_body eval
main::ans("https://x/open1")



=== TEST 5: every group full or down: 1004
--- request eval
main::req("full")
--- error_code: 409
--- response_body chomp
{"ret":1004,"msg":"群已满"}
--- response_headers
X-Error: no usable group in the pool of code "full" (2 groups: full, gone or down)
--- error_log
upbot GetMediaInfo: no usable group in the pool of code "full"



=== TEST 6: pool order is the order written
--- request eval
main::req("order")
--- response_body eval
main::ans("https://x/zz")
--- response_headers
X-Group: zz



=== TEST 7: codes are case-sensitive
--- request eval
[main::req("Case"), main::req("case"), main::req("CASE"), main::req("cASE")]
--- error_code eval
[200, 200, 200, 404]
--- response_body eval
[main::ans("https://x/Case"), main::ans("https://x/case"),
 main::ans("https://x/CASE"), '{"ret":1003,"msg":"活码不存在"}']



=== TEST 8: a group without an id is named by its place in the pool
--- request eval
main::req("anon")
--- response_body eval
main::ans("https://x/anon2", "second")
--- response_headers
X-Group: 2



=== TEST 9: quoted words: spaces, quotes, ampersands, UTF-8 come out as JSON
--- request eval
main::req("uni")
--- response_body chomp
{"ret":0,"msg":"","data":{"url":"https://x/u?a=1&b=2","name":"火影 忍者 \"俱乐部\"","background":"https://cdn/bg.png"}}



=== TEST 10: an unknown code
--- request eval
main::req("nope")
--- error_code: 404
--- response_body chomp
{"ret":1003,"msg":"活码不存在"}
--- response_headers
X-Error: unknown code "nope"



=== TEST 11: the code is trimmed of white space
--- request eval
main::req(" \\t\\r\\n order \\n")
--- response_body eval
main::ans("https://x/zz")



=== TEST 12: spread: each user lands where rendezvous hashing says, every time
--- request eval
[(map { main::spread_req("spread", $_) } @main::Users),
 (map { main::spread_req("spread", $_) } @main::Users)]
--- response_body eval
[(map { main::ans("https://x/$_") } @main::Picks),
 (map { main::ans("https://x/$_") } @main::Picks)]



=== TEST 13: spread skips groups that are not usable
--- request eval
[map { main::spread_req("down", "user-$_") } 1 .. 5]
--- response_body eval
[(main::ans("https://x/down2")) x 5]



=== TEST 14: spread with every group full: 1004
--- request eval
main::spread_req("full")
--- error_code: 409



=== TEST 15: include a generated rows file
--- user_files
>>> tokens
t0k3n
>>> codes.inc
# generated
gen1 static g1 url=https://x/gen1 members=3 threshold=3;
gen1 static g2 url=https://x/gen2;
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        include $TEST_NGINX_SERVER_ROOT/html/codes.inc;
        gen1 static g3 url=https://x/gen3;
    }
--- request eval
main::req("gen1")
--- response_body eval
main::ans("https://x/gen2")



=== TEST 16: configured strings that need escaping are escaped; the others are copied
--- http_config
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        esc    static  g1  "url=https://x/esc?q=\"1\"" "name=tab\there \"q\" back\\slash";
        plain  static  g1  url=https://x/plain name=群一;
    }
--- request eval
[main::req("esc"), main::req("plain")]
--- response_body eval
[main::ans('https://x/esc?q=\"1\"', 'tab\there \"q\" back\\\\slash'),
 main::ans("https://x/plain", "群一")]
