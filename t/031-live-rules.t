# The live-code rules of a codes row: expires=, hours= (at upbot_time_offset)
# and fallback, and $upbot_pick.  Times and windows are made from the clock
# when the file starts, with hours of margin, so that the blocks say the
# same whenever they run; a window that must hold "now" at a given hour of
# the day gets an upbot_time_offset that puts "now" there.

use lib 't/lib';
use MockIM;
use MediaInfo qw(req ans);
use SpreadPick qw(spread_pick);
use POSIX qw(floor);
use Test::Nginx::Socket 'no_plan';

log_level('info');

our $Now = time;

my $H = 3600;
my $Day = 86400;

# "+HH:MM" (or "Z") of an offset in seconds
sub offstr {
    my ($off, $colon) = @_;
    return "Z" if $off == 0;
    return sprintf "%s%02d%s%02d", $off < 0 ? "-" : "+", int(abs($off) / $H),
                   $colon // ":", int((abs($off) % $H) / 60);
}

# an ISO 8601 time at an offset
sub iso {
    my ($t, $off, $colon) = @_;
    my @g = gmtime($t + $off);
    return sprintf("%04d-%02d-%02dT%02d:%02d:%02d", $g[5] + 1900, $g[4] + 1,
                   @g[3, 2, 1, 0]) . offstr($off, $colon);
}

# "HH:MM" of a time of day, in seconds (any, taken modulo a day)
sub hm {
    my $s = floor(shift) % $Day;
    return sprintf "%02d:%02d", int($s / $H), int(($s % $H) / 60);
}

# the offset (whole minutes, within 12 hours) at which now is "want" o'clock
sub offset_for {
    my ($want) = @_;
    my $d = (int($want / 60) - int(($Now % $Day) / 60)) % 1440;
    $d -= 1440 if $d > 720;
    return $d * 60;
}

our $Noon = offstr(offset_for(12 * $H));
our $Midnight = offstr(offset_for(0));

# the local time of day now at +08:00 and at UTC
my $L8 = $Now + 8 * $H;
my $L0 = $Now;

my $Past = $Now - $Day;
my $Future = $Now + $Day;

our $Rows = <<"_EOR_";
        # expires=: ISO 8601 at an offset, Z, +HHMM, unix seconds
        exp     static  old   url=https://x/old  expires=@{[ iso($Past, 8 * $H) ]};
        exp     static  new   url=https://x/new  expires=@{[ iso($Future, 8 * $H) ]};
        zulu    static  z     url=https://x/z    expires=@{[ iso($Future, 0) ]};
        compact static  old   url=https://x/old  expires=@{[ iso($Now - 60, -5 * $H - 1800, "") ]};
        compact static  new   url=https://x/new  expires=@{[ iso($Future, 5 * $H + 1800, "") ]};
        unix    static  old   url=https://x/uold expires=$Past;
        unix    static  new   url=https://x/unew expires=$Future;
        ended   static  a     url=https://x/a    expires=@{[ iso($Now - 2 * $H, 0) ]};
        ended   static  b     url=https://x/b    expires=@{[ $Now - 1 ]};

        # fallback: only when every other group is unusable, never full
        fb      static  full  url=https://x/full members=5 threshold=5;
        fb      static  down  url=https://x/down down;
        fb      static  old   url=https://x/old  expires=$Past;
        fb      static  cs    url=https://x/cs   fallback;
        fbfirst static  cs    url=https://x/cs   fallback;
        fbfirst static  g1    url=https://x/g1   members=5 threshold=5;
        fbfirst static  g2    url=https://x/g2;
        fbdown  static  g1    url=https://x/g1   down;
        fbdown  static  cs    url=https://x/cs   fallback down;
        fbold   static  g1    url=https://x/g1   members=200 max_members=200;
        fbold   static  cs    url=https://x/cs   fallback expires=$Past;
        first   static  g1    url=https://x/g1;
        first   static  cs    url=https://x/cs   fallback;

        # spread over the groups that are not the fallback
        spread  static  s1    url=https://x/s1;
        spread  static  cs    url=https://x/cs   fallback;
        spread  static  s2    url=https://x/s2;
        spread  static  s3    url=https://x/s3;
        spfull  static  s1    url=https://x/s1   members=9 threshold=9;
        spfull  static  s2    url=https://x/s2   down;
        spfull  static  cs    url=https://x/cs   fallback;

        # hours= at local noon and at local midnight (see the blocks' offset)
        day     static  a     url=https://x/a    hours=09:00-15:00;
        eve     static  a     url=https://x/a    hours=15:00-21:00;
        eve     static  b     url=https://x/b;
        night   static  a     url=https://x/a    hours=22:00-02:00;
        night   static  b     url=https://x/b;
        late    static  a     url=https://x/a    hours=02:00-22:00;
        late    static  b     url=https://x/b;
        always  static  a     url=https://x/a    hours=00:00-24:00;

        # now within 3 hours at +08:00, and at UTC: 8 hours apart
        tz      static  g8    url=https://x/g8   hours=@{[ hm($L8 - 3 * $H) ]}-@{[ hm($L8 + 3 * $H) ]};
        tz      static  g0    url=https://x/g0   hours=@{[ hm($L0 - 3 * $H) ]}-@{[ hm($L0 + 3 * $H) ]};

        # live groups: a full fallback is answered, a gone one is not
        lv1     tim:prod  \@TGS#full;
        lv1     tim:prod  \@TGS#fb  fallback;
        lv2     tim:prod  \@TGS#fb  fallback;
        lv2     tim:prod  \@TGS#a;
        lv3     tim:prod  \@TGS#full;
        lv3     tim:prod  \@TGS#gone  fallback;
_EOR_

MockIM::start(fixtures => {
    tim => { apps => { 1400000000 => { key => 'k', identifier => 'admin' } },
             groups => {
                 '@TGS#full' => { Name => 'full', MemberNum => 200, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://x/lfull' }] },
                 '@TGS#fb'   => { Name => 'cs', MemberNum => 2000, MaxMemberNum => 2000,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://x/lfb' }] },
                 '@TGS#a'    => { Name => 'a', MemberNum => 5, MaxMemberNum => 200,
                                  AppDefinedData => [{ Key => 'url', Value => 'https://x/la' }] },
                 '@TGS#gone' => { ErrorCode => 10010 },
             } },
});

# the http level, with "upbot_time_offset OFFSET" when one is given
sub conf {
    my ($offset) = @_;
    my $line = defined $offset ? "upbot_time_offset  $offset;" : "";
    return <<"_EOC_";
    upbot_auth_tokens  \$TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_zone  upbot:1m;
    upbot_tim  prod  sdkappid=1400000000 identifier=admin key=k location=/_upbot/tim;
    $line
    upbot_codes {
$Rows
    }
_EOC_
}

our $Full = qq({"ret":1004,"msg":"群已满"});

our @Users = map { "openid-$_" } 1 .. 12;
our @Picks = map { spread_pick($_, "s1", "s2", "s3") } @Users;

my %seen = map { $_ => 1 } @Picks;
die "spread test data is degenerate\n" if keys %seen < 2 || !$seen{s1};

add_block_preprocessor(sub {
    my $block = shift;

    MockIM::prepare($block);

    $block->set_value("user_files", ">>> tokens\nt0k3n\n")
        unless defined $block->user_files;

    $block->set_value("http_config", conf()) unless defined $block->http_config;

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /m {
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
        add_header X-Pick $upbot_pick always;
    }
    location = /spread {
        upbot_pick spread;
        upbot_get_media_info;
        add_header X-Group $upbot_group always;
        add_header X-Pick $upbot_pick always;
    }
    location = /e {
        upbot_report_media_event;
        upbot_event_log  logs/events.jsonl;
        add_header X-Pick $upbot_pick always;
    }
    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/v4/group_open_http_svc/get_group_info$is_args$args;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: an expired group is skipped; one expiring tomorrow is answered
--- request eval
main::req("exp")
--- response_body eval
main::ans("https://x/new")
--- response_headers
X-Group: new
X-Pick: switched



=== TEST 2: a future expiry in Z is answered, as the pool's first
--- request eval
main::req("zulu")
--- response_body eval
main::ans("https://x/z")
--- response_headers
X-Pick: first



=== TEST 3: +HHMM offsets: a minute ago at -05:30 has passed, tomorrow at +05:30 has not
--- request eval
main::req("compact")
--- response_body eval
main::ans("https://x/new")



=== TEST 4: expiry in unix seconds
--- request eval
main::req("unix")
--- response_body eval
main::ans("https://x/unew")
--- response_headers
X-Group: new



=== TEST 5: every group expired: 1004, exhausted
--- request eval
main::req("ended")
--- error_code: 409
--- response_body eval
$main::Full
--- response_headers
X-Pick: exhausted
!X-Group



=== TEST 6: the fallback when every other group is full, down or expired
--- request eval
main::req("fb")
--- response_body eval
main::ans("https://x/cs")
--- response_headers
X-Group: cs
X-Pick: fallback



=== TEST 7: a fallback first in the pool is passed over while another group is usable
--- request eval
main::req("fbfirst")
--- response_body eval
main::ans("https://x/g2")
--- response_headers
X-Group: g2
X-Pick: switched



=== TEST 8: a fallback that is down is not answered
--- request eval
main::req("fbdown")
--- error_code: 409
--- response_body eval
$main::Full
--- response_headers
X-Pick: exhausted



=== TEST 9: a fallback that has expired is not answered
--- request eval
main::req("fbold")
--- error_code: 409
--- response_body eval
$main::Full



=== TEST 10: the first group usable: "first", the fallback unused
--- request eval
main::req("first")
--- response_body eval
main::ans("https://x/g1")
--- response_headers
X-Pick: first



=== TEST 11: spread: the fallback takes no part in the draw
--- request eval
[map { main::req("spread", $_, "/spread") } @main::Users]
--- response_body eval
[map { main::ans("https://x/$_") } @main::Picks]
--- response_headers eval
[map { "X-Group: $_\nX-Pick: " . ($_ eq "s1" ? "first" : "switched") } @main::Picks]



=== TEST 12: spread: the fallback when the others are full or down
--- request eval
[map { main::req("spfull", $_, "/spread") } @main::Users[0 .. 2]]
--- response_body eval
[(main::ans("https://x/cs")) x 3]
--- response_headers eval
[("X-Group: cs\nX-Pick: fallback") x 3]



=== TEST 13: local noon: 09:00-15:00 is open, 15:00-21:00 is not
--- http_config eval
main::conf($main::Noon)
--- request eval
[main::req("day"), main::req("eve")]
--- response_body eval
[main::ans("https://x/a"), main::ans("https://x/b")]
--- response_headers eval
["X-Pick: first", "X-Pick: switched"]



=== TEST 14: local noon: a window across midnight is closed, 00:00-24:00 is open
--- http_config eval
main::conf($main::Noon)
--- request eval
[main::req("night"), main::req("always"), main::req("late")]
--- response_body eval
[main::ans("https://x/b"), main::ans("https://x/a"), main::ans("https://x/a")]



=== TEST 15: local midnight: 22:00-02:00 is open, 02:00-22:00 is not
--- http_config eval
main::conf($main::Midnight)
--- request eval
[main::req("night"), main::req("late"), main::req("always")]
--- response_body eval
[main::ans("https://x/a"), main::ans("https://x/b"), main::ans("https://x/a")]



=== TEST 16: hours are read at +08:00 by default
--- request eval
main::req("tz")
--- response_body eval
main::ans("https://x/g8")
--- response_headers
X-Pick: first



=== TEST 17: upbot_time_offset changes which window is open
--- http_config eval
main::conf("Z")
--- request eval
main::req("tz")
--- response_body eval
main::ans("https://x/g0")
--- response_headers
X-Pick: switched



=== TEST 18: $upbot_pick is empty for an unknown code and for ReportMediaEvent
--- request eval
[main::req("nope"),
 "POST /e\n{\"head\":{\"account_info\":{\"account_type\":2,\"appid\":\"a\",\"openid\":\"o\"}},\"items\":[{\"event_id\":\"1\",\"code\":\"exp\"}]}"]
--- error_code eval
[404, 200]
--- response_headers eval
["!X-Pick", "!X-Pick"]



=== TEST 19: $upbot_pick in an access log
--- http_config eval
main::conf() . '    log_format  pick  "$upbot_code $upbot_group $upbot_pick";'
--- config
    location = /m {
        upbot_get_media_info;
        access_log  logs/pick.log  pick;
    }
    location = /log {
        alias  $TEST_NGINX_SERVER_ROOT/logs/pick.log;
    }
    location = /_upbot/tim {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request eval
[main::req("exp"), main::req("fb"), main::req("ended"), "GET /log"]
--- error_code eval
[200, 200, 409, 200]
--- response_body eval
[main::ans("https://x/new"), main::ans("https://x/cs"), $main::Full,
 "exp new switched\nfb cs fallback\nended - exhausted\n"]



=== TEST 20: live: a fallback full at the provider's count is answered all the same
--- request eval
main::req("lv1")
--- response_body eval
main::ans("https://x/lfb", "cs")
--- response_headers
X-Group: @TGS#fb
X-Pick: fallback



=== TEST 21: live: a fallback first in the pool, fresh and usable, does not end the look-up
The first request caches @TGS#fb; the second's look-up must go past it
and fetch @TGS#a, then the third answers from the worker's view.
--- request eval
[main::req("lv1"), main::req("lv2"), main::req("lv2")]
--- response_body eval
[main::ans("https://x/lfb", "cs"), main::ans("https://x/la", "a"),
 main::ans("https://x/la", "a")]
--- response_headers eval
["X-Pick: fallback", "X-Group: \@TGS#a\nX-Pick: switched",
 "X-Group: \@TGS#a\nX-Pick: switched"]



=== TEST 22: live: a fallback the provider says is gone is not answered
--- request eval
main::req("lv3")
--- error_code: 409
--- response_body eval
$main::Full
--- response_headers
X-Pick: exhausted
