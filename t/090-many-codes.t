# A codes table of 100,000 codes, as a campaign's include file: every part
# of it answers, unknown codes do not, and a mistake deep in it is reported
# at its line.  Speed is measured by "make bench", not here.

use Test::Nginx::Socket 'no_plan';

log_level('info');

our $N = 100_000;
our (@Codes, $Table);

# codes shaped like seed 000's: 16 letters and digits, from a fixed LCG so
# that every run sees the same table
{
    my @alnum = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
    my ($x, %seen) = (20261124);
    my @rows;

    while (@Codes < $N) {
        my $code = '';
        for (1 .. 16) {
            $x = ($x * 1103515245 + 12345) % 2147483648;
            $code .= $alnum[($x >> 16) % 62];
        }
        next if $seen{lc $code}++;
        push @Codes, $code;
    }

    for my $i (0 .. $#Codes) {
        my $c = $Codes[$i];

        if ($i % 10 == 0) {
            # every tenth code has a pool of three, the first one full
            push @rows, "$c static g$i-a url=https://example.com/j/$i-a "
                        . "members=500 max_members=500;",
                        "$c static g$i-b url=https://example.com/j/$i-b;",
                        "$c static g$i-c url=https://example.com/j/$i-c;";
        } else {
            push @rows, "$c static g$i url=https://example.com/j/$i;";
        }

        # codes that differ only in case are different codes
        if ($i == $N / 2) {
            push @rows, "CaseCode static upper url=https://example.com/j/U;",
                        "casecode static lower url=https://example.com/j/L;";
        }
    }

    $Table = join("\n", "# $N generated codes", @rows) . "\n";
}

sub req {
    my $code = shift;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t\"}";
}

sub ans {
    my $url = shift;
    return "{\"ret\":0,\"msg\":\"\",\"data\":{\"url\":\"$url\","
           . "\"name\":\"\",\"background\":\"\"}}";
}

our $Unknown = '{"ret":1003,"msg":"活码不存在"}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> tokens\nt0k3n\n>>> codes.conf\n"
                                    . $Table)
        unless defined $block->user_files;

    $block->set_value("http_config", <<'_EOC_');
    upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
_EOC_

    $block->set_value("config", <<'_EOC_');
    location = /m {
        upbot_get_media_info;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: first, middle and last codes, a full first group, unknown codes
--- request eval
[
    main::req($::Codes[1]),
    main::req($::Codes[0]),
    main::req($::Codes[$::N / 2 + 1]),
    main::req($::Codes[$::N / 2]),
    main::req($::Codes[$::N - 1]),
    main::req($::Codes[$::N - 10]),
    main::req(" $::Codes[77777]\\t"),
    main::req("NotInTheTable123"),
    main::req(substr($::Codes[3], 0, 15)),
    main::req($::Codes[3] . "x"),
]
--- response_body eval
[
    main::ans("https://example.com/j/1"),
    main::ans("https://example.com/j/0-b"),
    main::ans("https://example.com/j/" . ($::N / 2 + 1)),
    main::ans("https://example.com/j/" . ($::N / 2) . "-b"),
    main::ans("https://example.com/j/" . ($::N - 1)),
    main::ans("https://example.com/j/" . ($::N - 10) . "-b"),
    main::ans("https://example.com/j/77777"),
    $::Unknown,
    $::Unknown,
    $::Unknown,
]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404, 404, 404]



=== TEST 2: codes that differ only in case
--- request eval
[
    main::req("CaseCode"),
    main::req("casecode"),
    main::req("CASECODE"),
    main::req(uc $::Codes[5] eq $::Codes[5] ? lc $::Codes[5] : uc $::Codes[5]),
]
--- response_body eval
[
    main::ans("https://example.com/j/U"),
    main::ans("https://example.com/j/L"),
    $::Unknown,
    $::Unknown,
]
--- error_code eval
[200, 200, 404, 404]



=== TEST 3: a mistake deep in the table is reported at its line
--- user_files eval
my @lines = split /\n/, $::Table;
$lines[73411] = "BrokenRow static;";
">>> tokens\nt0k3n\n>>> codes.conf\n" . CORE::join("\n", @lines) . "\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid codes table row, .* in \S+\/html\/codes\.conf:73412$/m
