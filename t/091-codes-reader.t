# The rows of upbot_codes and of the files it includes are read by the
# module's own reader (src/ngx_http_upbot_conf.c), with nginx's rules for
# words: white space, "..." and '...' with backslash escapes, "#" comments,
# ";" ends a row, "{" and "}" do not belong in one; errors name the file
# and line as nginx's would.  t/092-codes-reader-nginx.t compares the two
# readers on generated files.

use Test::Nginx::Socket 'no_plan';

log_level('info');

sub req {
    my $code = shift;
    return "POST /m\n{\"account_info\":{\"account_type\":2,\"appid\":\"a\","
           . "\"openid\":\"o\"},\"media_type\":2,\"code\":\"$code\","
           . "\"trace_id\":\"t\"}";
}

sub ans {
    my ($url, $name) = @_;
    return "{\"ret\":0,\"msg\":\"\",\"data\":{\"url\":\"$url\","
           . "\"name\":\"" . ($name // '') . "\",\"background\":\"\"}}";
}

our $Unknown = '{"ret":1003,"msg":"活码不存在"}';

# a file of $n rows "rN static g url=https://example.com/j/N;", one a line
sub rows {
    my ($n, $from) = @_;
    return join '', map { "r$_  static  g  url=https://example.com/j/$_;\n" }
                    ($from // 1) .. ($from // 1) + $n - 1;
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
_EOC_
    }

    $block->set_value("config", <<'_EOC_');
    location = /m {
        upbot_get_media_info;
        upbot_auth_tokens  $TEST_NGINX_SERVER_ROOT/html/tokens;
    }
_EOC_

    $block->set_value("more_headers",
                      "Content-Type: application/json\nAuthorization: t0k3n");
});

run_tests();

__DATA__

=== TEST 1: quoted words, escapes, "#" and "${" inside words
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", <<'_EOF_'],
"q1"  static  g1  "url=https://example.com/j/1"  "name=火影 忍者";
'q2'  static  g2  'url=https://example.com/j/2'  'name=他说"好"';
q3  static  g3  url=https://example.com/j/3  "name=a\"b\'c\\d";
q4  static  g4  url=https://example.com/j/4  name=tab\there;
q5  static  g5  url=https://example.com/j/5#top  name=x#y;   # a comment
q6  static  g6  url=https://example.com/${x}/6  name=\x\q;
q7  static  g7  url=https://example.com/j/7  "name=;{}#";
_EOF_
]
--- request eval
[map { main::req("q$_") } 1 .. 7]
--- response_body eval
[
    main::ans("https://example.com/j/1", "火影 忍者"),
    main::ans("https://example.com/j/2", '他说\\"好\\"'),
    main::ans("https://example.com/j/3", q{a\\"b'c\\\\d}),
    main::ans("https://example.com/j/4", 'tab\\there'),
    main::ans("https://example.com/j/5#top", "x#y"),
    main::ans('https://example.com/${x}/6', q{\\\\x\\\\q}),
    main::ans("https://example.com/j/7", ';{}#'),
]
--- error_code eval
[(200) x 7]



=== TEST 2: a row over several lines, with comments between its words
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", <<'_EOF_'],
# a campaign's codes
m1  static   # the group follows
    g1
    url=https://example.com/j/m1   # the join link
    ;
m2	static	g2	url=https://example.com/j/m2;m3 static g3 url=https://example.com/j/m3;
_EOF_
]
--- request eval
[main::req("m1"), main::req("m2"), main::req("m3")]
--- response_body eval
[
    main::ans("https://example.com/j/m1"),
    main::ans("https://example.com/j/m2"),
    main::ans("https://example.com/j/m3"),
]
--- error_code eval
[200, 200, 200]



=== TEST 3: CRLF line ends, and a last row without a line end
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "w1 static g1 url=https://example.com/j/w1;\r\n"
                   . "w2 static g2 url=https://example.com/j/w2;\r\n"
                   . "w3 static g3 url=https://example.com/j/w3;"],
]
--- request eval
[main::req("w1"), main::req("w2"), main::req("w3")]
--- response_body eval
[
    main::ans("https://example.com/j/w1"),
    main::ans("https://example.com/j/w2"),
    main::ans("https://example.com/j/w3"),
]
--- error_code eval
[200, 200, 200]



=== TEST 4: rows in the block itself follow the same rules
--- http_config
    upbot_codes {
        "b1"  static  g1  url=https://example.com/j/b1 'name=块 一' ;
        b2  static  g2  url=https://example.com/j/b2  "name=\"2\"\t";  # ok
        include  $TEST_NGINX_SERVER_ROOT/html/codes.conf;
    }
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "b3 static g3 url=https://example.com/j/b3;\n"],
]
--- request eval
[main::req("b1"), main::req("b2"), main::req("b3")]
--- response_body eval
[
    main::ans("https://example.com/j/b1", "块 一"),
    main::ans("https://example.com/j/b2", '\\"2\\"\\t'),
    main::ans("https://example.com/j/b3"),
]
--- error_code eval
[200, 200, 200]



=== TEST 5: an empty file, and a file of comments only
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/empty.conf;
        include  $TEST_NGINX_SERVER_ROOT/html/comments.conf;
        e1  static  g1  url=https://example.com/j/e1;
    }
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["empty.conf", ""],
    ["comments.conf", "# nothing yet\n\n   # really\n#"],
]
--- request eval
[main::req("e1"), main::req("e2")]
--- response_body eval
[main::ans("https://example.com/j/e1"), $::Unknown]
--- error_code eval
[200, 404]



=== TEST 6: files that match a glob, in the glob's order; a glob that matches none
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/codes-*.conf;
        include  $TEST_NGINX_SERVER_ROOT/html/none-*.conf;
    }
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes-b.conf", "p  static  gb  url=https://example.com/j/b;\n"],
    ["codes-a.conf", "p  static  ga  url=https://example.com/j/a"
                     . " members=9 max_members=9;\n"
                     . "a1  static  g  url=https://example.com/j/a1;\n"],
]
--- request eval
[main::req("p"), main::req("a1")]
--- response_body eval
[main::ans("https://example.com/j/b"), main::ans("https://example.com/j/a1")]
--- error_code eval
[200, 200]



=== TEST 7: an included file includes another
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "n1 static g1 url=https://example.com/j/n1;\n"
                   . "include \$TEST_NGINX_SERVER_ROOT/html/more/codes.conf;\n"
                   . "n3 static g3 url=https://example.com/j/n3;\n"],
    ["more/codes.conf", "n2 static g2 url=https://example.com/j/n2;\n"],
]
--- request eval
[main::req("n1"), main::req("n2"), main::req("n3")]
--- response_body eval
[
    main::ans("https://example.com/j/n1"),
    main::ans("https://example.com/j/n2"),
    main::ans("https://example.com/j/n3"),
]
--- error_code eval
[200, 200, 200]



=== TEST 8: a quote left open: the file ends in it
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "c2 static g2 \"url=https://example.com/j/2;\n"
                   . "c3 static g3 url=https://example.com/j/3;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected end of file, expecting ";" or "}" in \S+\/html\/codes\.conf:4$/m



=== TEST 9: the last row without its ";"
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "c2 static g2 url=https://example.com/j/2\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected end of file, expecting ";" or "}" in \S+\/html\/codes\.conf:3$/m



=== TEST 10: a ";" left out joins two rows: the first word too many is named
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1\n"
                   . "c2 static g2 url=https://example.com/j/2;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 5 of the codes row \(not shown: it may be a secret\), expected .* in \S+\/html\/codes\.conf:2$/m



=== TEST 11: a "{" in a row, alone or at the end of a word
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n\n"
                   . "c2 static g2 url=https://example.com/j/2{\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "\{" in \S+\/html\/codes\.conf:3$/m



=== TEST 12: a "{" alone after a row's words
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1\n    url=https://example.com/j/1 {\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "\{" in \S+\/html\/codes\.conf:2$/m



=== TEST 13: a "}" in an included file
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n}\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "\}" in \S+\/html\/codes\.conf:2$/m



=== TEST 14: a "}" after a row's words
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1 }\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "\}" in \S+\/html\/codes\.conf:1$/m



=== TEST 15: a ";" with no row
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n\n  ;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected ";" in \S+\/html\/codes\.conf:3$/m



=== TEST 16: a word right after a closing quote
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 \"url=https://example.com/j/1\"name=x;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*unexpected "n" in \S+\/html\/codes\.conf:1$/m



=== TEST 17: a row is placed at the line of its ";"
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "c2\n  static\n  g2\n  colour=red\n;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 4 of the codes row .* in \S+\/html\/codes\.conf:6$/m



=== TEST 18: a mistake deep in a large file: its line, across the reader's buffers
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", main::rows(39999)
                   . "r40000  static  g  url=https://example.com/j/40000"
                   . "\n    colour=red;\n"
                   . main::rows(10000, 40001)],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter, word 5 of the codes row .* in \S+\/html\/codes\.conf:40001$/m



=== TEST 19: a word of 4096 bytes or more
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "c2 static g2 url=https://example.com/" . ("x" x 5000)
                   . ";\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*too long parameter "url=https:\.\.\." started in \S+\/html\/codes\.conf:2$/m



=== TEST 20: a quote left open over 4096 bytes
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "c2 static g2 \"url=https://example.com/j/2;\n"
                   . main::rows(200)],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*too long parameter, probably missing terminating """ character in \S+\/html\/codes\.conf:2$/m



=== TEST 21: an included file that does not exist
--- http_config
    upbot_codes {
        c1  static  g1  url=https://example.com/j/1;
        include  $TEST_NGINX_SERVER_ROOT/html/missing.conf;
    }
--- user_files eval
[["tokens", "t0k3n\n"]]
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/html\/missing\.conf" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+$/m



=== TEST 22: a missing file included from an included file names the includer's line
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n\n"
                   . "include \$TEST_NGINX_SERVER_ROOT/html/gone.conf;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S+\/html\/gone\.conf" failed \(2: No such file or directory\) in \S+\/html\/codes\.conf:3$/m



=== TEST 23: a mistake in a file included from an included file
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["codes.conf", "c1 static g1 url=https://example.com/j/1;\n"
                   . "include \$TEST_NGINX_SERVER_ROOT/html/inner.conf;\n"],
    ["inner.conf", "\n\nc2 static;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid codes table row, expected "CODE SOURCE GROUP \[OPTIONS\]" in \S+\/html\/inner\.conf:3$/m



=== TEST 24: twins in a pool named across two included files
--- http_config
    upbot_codes {
        include  $TEST_NGINX_SERVER_ROOT/html/one.conf;
        include  $TEST_NGINX_SERVER_ROOT/html/two.conf;
    }
--- user_files eval
[
    ["tokens", "t0k3n\n"],
    ["one.conf", "c1 static g1 url=https://example.com/j/1;\n"],
    ["two.conf", "\nc1 static g1 url=https://example.com/j/1b;\n"],
]
--- must_die
--- error_log eval
qr/\[emerg\] .*group "g1" appears twice in the pool of code "c1", in \S+\/html\/two\.conf:2 and \S+\/html\/one\.conf:1$/m
