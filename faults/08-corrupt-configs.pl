#!/usr/bin/env perl
# 8. nginx -t over FAULTS_CONFIGS (300) randomly corrupted configurations
# (fixed random seed).  The bases: conf-examples/demo.conf, the same with
# its key and secret inline, conf-examples/production.conf made local
# (127.0.0.1, no TLS server certificate, its files in a folder of ours),
# and a compact one in the style of t/062-secrets.t with every directive
# and every kind of secret.  Every secret (inline keys and secrets, the key
# and secret files' contents, the API tokens) is a distinctive string
# planted here.  Corruptions, one to three a configuration: tokens deleted,
# repeated, swapped, replaced; lines deleted, repeated, swapped; the file
# truncated; junk inserted; a secret-bearing word moved elsewhere, or put
# into another of the module's directives or a codes row (these two twice
# as likely as the others); and, one time in seven, the tokens, key or
# secret file corrupted.
#
# Checks: nginx -t never ends on a signal (nor runs over 10 s); every
# message of the module (one that names upbot, or has the words of one of
# the module's messages, found in src/*.c) says "in FILE:LINE"; no message
# other than nginx's own parser's shows a byte of a secret (any 6 bytes of
# one), whether the secret is in its own place (upbot_tim, upbot_yunxin,
# the files) or the corruption put it into another directive or a codes
# row (counted apart); nginx's own parser shows the words it cannot place
# ("unknown directive \"...\"", README: Security), and a word that lands
# where a file belongs is shown as the path that failed to open, as
# nginx's include shows it: both counted as information.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(time);

my $count = $ENV{FAULTS_CONFIGS} || 300;
my $seed = $ENV{FAULTS_SEED} || 20261201;

my $dir = workdir();
my $top = top();
my $listen = $ENV{FAULTS_DEAD_PORT} || 8999;     # nginx -t binds nothing
my $modules = join '', map { "load_module $_;\n" } Faults::modules();

my %secret = (
    tim_inline  => 'SECRETk1nL9qZx7Wv3Pd',
    tim_file    => 'SECRETkF1leR8mQ2sT6y',
    yx_inline   => 'SECRETyX5nH4jB9cL1eA',
    yx_file     => 'SECRETyF7gD3kN8pW2uB',
    token1      => 'SECRETt0kVb6Xm4Qr9Zc',
    token2      => 'SECRETt0kHq2Wn5Ls8Dd',
);

# any 6 bytes of a secret
my %window;
for my $s (values %secret) {
    $window{ substr($s, $_, 6) } = 1 for 0 .. length($s) - 6;
}
my $window_re = join '|', map { quotemeta } sort keys %window;
$window_re = qr/$window_re/;


# --- the module's messages, from its sources --------------------------------

my @fragments;

for my $f (glob "$top/src/*.c") {
    my $src = slurp($f);
    while ($src =~ /ngx_(?:conf_)?log_error\((.*?)\);/gs) {
        my $call = $1;
        my $fmt = join '', $call =~ /"((?:[^"\\]|\\.)*)"/g;
        for my $piece (split /%[-0-9.*]*[a-zA-Z]+|\\"/, $fmt) {
            push @fragments, $piece if length $piece >= 12
                                       && $piece =~ /[a-z]{3}/;
        }
    }
}

my %u;
@fragments = grep { !$u{$_}++ } @fragments;
my $module_re = join '|', 'upbot', map { quotemeta } @fragments;
$module_re = qr/$module_re/i;
note(scalar(@fragments) . " message fragments of the module from src/*.c");

# nginx's own parser messages that show what the configuration says; only
# those the module never writes ("invalid value" and "open()" are the
# module's too, so they count as the module's; the module's "invalid
# parameter" never quotes a whole word, at most "NAME=...")
my $core_echo = join '|', map { quotemeta } (
    'unknown directive "', 'unexpected "', 'unexpected end of file',
    'host not found in', 'invalid port in', 'invalid host in', 'no port in',
    'is not terminated by', 'has no opening', 'invalid number of arguments in',
    'directive is not allowed here', 'directive is duplicate',
    'invalid variable name', 'getpwnam(', 'getgrnam(', 'dlopen(',
    'invalid event type', 'invalid log level "', 'too long parameter "',
    'unknown log format "', 'invalid location modifier "');
my $core_more = qr/unknown "[^"]*" variable|invalid parameter "(?![^"]*=\.\.\.")/;
$core_echo = qr/$core_echo|$core_more/;


# --- the bases ---------------------------------------------------------------

my %files = (
    'tokens' => "# planted\n$secret{token1}  one\n$secret{token2}\n",
    'tim.key' => "$secret{tim_file}\n",
    'yx.secret' => "$secret{yx_file}\n",
    'codes.conf' => "    live  tim:prod   \@TGS#p1  url=https://x/1;\n"
                    . "    live  yunxin:cn  17889/1;\n"
                    . "    st    static     g1  url=https://x/2 name=s;\n",
);

my $load = $modules;
my @bases;

{
    my $demo = slurp("$top/conf-examples/demo.conf");
    $demo =~ s{^load_module\s+modules/ngx_http_upbot_module\.so;\n}{$load}m
        or die "demo.conf: no load_module line";
    $demo =~ s/\b(?:8080|8081)\b/$listen/g;
    $demo =~ s/\bdemo-tokens\b/\@RUN\@\/tokens/;
    $demo =~ s/\bdemo-tim\.key\b/\@RUN\@\/tim.key/;
    $demo =~ s/\bdemo-yunxin\.secret\b/\@RUN\@\/yx.secret/;
    push @bases, ['demo.conf', $demo];

    my $inline = $demo;
    $inline =~ s/key_file=\S+/key=$secret{tim_inline}/ or die;
    $inline =~ s/secret_file=\S+/secret=$secret{yx_inline}/ or die;
    push @bases, ['demo.conf, secrets inline', $inline];
}

{
    my $prod = slurp("$top/conf-examples/production.conf");
    $prod =~ s{^load_module\s+modules/ngx_http_upbot_module\.so;\n}{$load}m
        or die "production.conf: no load_module line";
    $prod =~ s{/var/log/nginx/}{logs/}g;
    $prod =~ s{/etc/nginx/upbot/tokens}{\@RUN\@/tokens}g;
    $prod =~ s{/etc/nginx/upbot/tim-prod\.key}{\@RUN\@/tim.key}g;
    $prod =~ s{/etc/nginx/upbot/yunxin-cn\.secret}{\@RUN\@/yx.secret}g;
    $prod =~ s{/etc/nginx/upbot/codes\.conf}{\@RUN\@/codes.conf}g;
    $prod =~ s{server\s+\S+:443;}{server 127.0.0.1:$listen;}g;
    $prod =~ s{listen\s+443 ssl;}{listen 127.0.0.1:$listen;};
    $prod =~ s{^\s*ssl_certificate(?:_key)?\s.*\n}{}mg;
    push @bases, ['production.conf', $prod];
}

push @bases, ['compact, every directive', <<"_EOC_"];
$load
worker_processes  1;
error_log  logs/error.log;
pid        logs/nginx.pid;
events { worker_connections 64; }
http {
    upbot_zone               z:1m;
    upbot_cache              ttl=60s stale=10m lock_timeout=5s retry=1s;
    upbot_auth_tokens        \@RUN\@/tokens;
    upbot_event_log          logs/events.jsonl;
    upbot_pick               spread;
    upbot_max_items          100;
    upbot_max_string_length  256;
    upbot_max_json_depth     16;
    upbot_max_code_length    64;
    upbot_sticky             ttl=7d;
    upbot_attribution        window=30m;
    upbot_time_offset        +08:00;
    upbot_tim     prod  sdkappid=1400000000 identifier=admin
                        key=$secret{tim_inline} location=/_upbot/tim
                        expire=1d url_field=url;
    upbot_yunxin  cn    appkey=0123abcd secret=$secret{yx_inline}
                        location=/_upbot/yunxin/;
    upbot_tim     kf    sdkappid=1400000001 identifier=admin
                        key_file=\@RUN\@/tim.key location=/_upbot/tim2;
    upbot_yunxin  sf    appkey=4567efab secret_file=\@RUN\@/yx.secret
                        location=/_upbot/yunxin2/;
    upbot_codes {
        a  tim:prod   \@TGS#1  url=https://x/1 threshold=190;
        a  yunxin:cn  17889/1  background=https://x/bg.png;
        b  static     g1       url=https://x/2 "name=火影 忍者" members=1 max_members=2;
        c  tim:kf     \@TGS#2  media_type=2;
        c  yunxin:sf  1/2      down;
        e  static     v1       url=https://x/v1 max_views=50 max_scans=9 expires=2030-01-01T00:00:00+08:00;
        e  static     v2       url=https://x/v2 hours=09:00-22:00 sticky=off;
        e  static     kf       url=https://x/kf fallback;
        include  \@RUN\@/codes.conf;
    }
    server {
        listen  127.0.0.1:$listen;
        location = /m { upbot_get_media_info; }
        location = /e { upbot_report_media_event; }
        location = /_upbot/tim   { internal; proxy_pass http://127.0.0.1:$listen; }
        location = /_upbot/tim2  { internal; proxy_pass http://127.0.0.1:$listen; }
        location /_upbot/yunxin/ { internal; proxy_pass http://127.0.0.1:$listen/; }
        location /_upbot/yunxin2/ { internal; proxy_pass http://127.0.0.1:$listen/; }
    }
}
_EOC_

# the compact base's codes file names its apps
my %codes_for = ('compact, every directive' =>
                 "    d  tim:prod  \@TGS#9  url=https://x/9;\n");


# --- corruptions ---------------------------------------------------------------

sub pick { $_[ int rand @_ ] }

# words and the punctuation nginx's parser knows, with their offsets
sub tokens {
    my $s = shift;
    my @t;
    while ($s =~ /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[;{}]|[^\s;{}"']+)/g) {
        push @t, [$-[1], $+[1]];
    }
    return @t;
}

my @junk = ('{', '}', ';', '"', "'", '\\', '$', '#', 'junk', '=', ' key=',
            'location=', 'upbot_codes {', 'include *;', 'x' x 5000, "\t\n",
            '"unterminated', '${', '}}', ';;', 'upbot_tim', 'upbot_yunxin',
            'secret=', 'key_file=', "\x01", "\xff\xfe", 'static', 'tim:',
            'yunxin:', '@TGS#', '/1', 'url=', 'sdkappid=', 'appkey=');

my %ops = (
    delete_token => sub {
        my $s = shift;
        my @t = tokens($s) or return $s;
        my $t = pick(@t);
        substr($s, $t->[0], $t->[1] - $t->[0], '');
        $s;
    },
    repeat_token => sub {
        my $s = shift;
        my @t = tokens($s) or return $s;
        my $t = pick(@t);
        substr($s, $t->[1], 0) = ' ' . substr($s, $t->[0], $t->[1] - $t->[0]);
        $s;
    },
    swap_tokens => sub {
        my $s = shift;
        my @t = tokens($s);
        return $s if @t < 2;
        my $i = int rand(@t - 1);
        my $j = rand() < 0.5 ? $i + 1 : $i + 1 + int rand(@t - $i - 1);
        my ($a, $b) = @t[$i, $j];
        my $ta = substr($s, $a->[0], $a->[1] - $a->[0]);
        my $tb = substr($s, $b->[0], $b->[1] - $b->[0]);
        substr($s, $b->[0], $b->[1] - $b->[0], $ta);
        substr($s, $a->[0], $a->[1] - $a->[0], $tb);
        $s;
    },
    replace_token => sub {
        my $s = shift;
        my @t = tokens($s) or return $s;
        my ($a, $b) = (pick(@t), pick(@t));
        substr($s, $a->[0], $a->[1] - $a->[0],
               substr($s, $b->[0], $b->[1] - $b->[0]));
        $s;
    },
    move_secret => sub {
        # a word holding a secret (or a secret file's name) elsewhere
        my $s = shift;
        my @t = grep { substr($s, $_->[0], $_->[1] - $_->[0])
                       =~ /SECRET|\@RUN\@/ } tokens($s) or return $s;
        my $t = pick(@t);
        my $w = substr($s, $t->[0], $t->[1] - $t->[0], '');
        my @all = tokens($s);
        my $to = pick(@all) // return $s;
        substr($s, pick($to->[0], $to->[1]), 0) = " $w ";
        $s;
    },
    secret_into_directive => sub {
        # an inline secret word into another of the module's directives,
        # or a row of the codes table
        my $s = shift;
        my @st = grep { $_->{first} =~ /^upbot_/
                        && $_->{first} !~ /^upbot_(?:tim|yunxin)$/
                        || $_->{block} eq 'upbot_codes' } statements($s)
            or return $s;
        my $st = pick(@st);
        my $at = pick(@{ $st->{tokens} });
        my $w = pick("key=$secret{tim_inline}", "secret=$secret{yx_inline}",
                     $secret{tim_inline}, "$secret{yx_inline}=");
        substr($s, pick($at->[0], $at->[1]), 0) = " $w ";
        $s;
    },
    truncate => sub { my $s = shift; substr($s, 0, int rand(length $s)) },
    junk => sub {
        my $s = shift;
        substr($s, int rand(length($s) + 1), 0) = pick(@junk);
        $s;
    },
    delete_line => sub {
        my @l = split /\n/, shift, -1;
        splice @l, int rand @l, 1;
        join "\n", @l;
    },
    repeat_line => sub {
        my @l = split /\n/, shift, -1;
        my $i = int rand @l;
        splice @l, $i, 0, $l[$i];
        join "\n", @l;
    },
    swap_lines => sub {
        my @l = split /\n/, shift, -1;
        my ($i, $j) = (int rand @l, int rand @l);
        @l[$i, $j] = @l[$j, $i];
        join "\n", @l;
    },
);

# the statements of a configuration: { first => its first word, block =>
# the block it is in, tokens => [[start, end], ...] }
sub statements {
    my $s = shift;
    my (@out, @stack, $cur);

    for my $t (tokens($s)) {
        my $w = substr($s, $t->[0], $t->[1] - $t->[0]);
        if ($w eq ';' || $w eq '{' || $w eq '}') {
            push @stack, $cur ? $cur->{first} : '' if $w eq '{';
            pop @stack if $w eq '}';
            push @out, $cur if $cur;
            undef $cur;
            next;
        }
        next if $w =~ /^#/;
        $cur //= { first => $w, block => $stack[-1] // '', tokens => [] };
        push @{ $cur->{tokens} }, $t;
    }

    push @out, $cur if $cur;
    return @out;
}

# whether an inline secret is in a statement of another directive than
# upbot_tim or upbot_yunxin (moved there by a corruption)
sub secret_moved {
    my $s = shift;
    for my $st (statements($s)) {
        next if $st->{first} =~ /^upbot_(?:tim|yunxin)$/;
        for my $t (@{ $st->{tokens} }) {
            return 1 if substr($s, $t->[0], $t->[1] - $t->[0])
                        =~ /\Q$secret{tim_inline}\E|\Q$secret{yx_inline}\E/;
        }
    }
    return 0;
}

my %file_ops = (
    empty => sub { '' },
    repeat_line => sub {
        my @l = split /\n/, shift;
        join("\n", @l, $l[ int rand @l ] // '') . "\n";
    },
    control => sub {
        my $s = shift;
        substr($s, int rand(length $s), 0) = pick("\x01", "\x7f", "\t", "\r");
        $s;
    },
    truncate => sub { my $s = shift; substr($s, 0, int rand(length $s)) },
    pad => sub { my $s = shift; $s =~ s/\n/== trailing\n/; $s },
    no_newline => sub { my $s = shift; $s =~ s/\n\z//; $s },
    junk_line => sub { "junk line with = and \"quotes\"\n" . shift },
);

# the secrets' own moves twice as likely as the others
my @op_names = ((sort keys %ops), qw(move_secret secret_into_directive));
my @file_op_names = sort keys %file_ops;


# --- the runs ------------------------------------------------------------------

my $run = "$dir/run";
my (%n, @module_lines_without_where, @module_leaks, @core_leaks, @moved_leaks,
    @core_unplaced, @path_leaks,
    @signals, $module_lines, %kinds);

# a message without its particulars: what kind of mistake it reports
sub shape {
    my $m = shift;
    $m =~ s/^.*?\[\w+\] (?:\d+#\d+: )?//;
    $m =~ s/"[^"]*"/"…"/gs;
    $m =~ s{ in \S+:\d+}{ in FILE:LINE}g;
    $m =~ s/\d+/N/g;
    return $m;
}

sub prepare {
    my ($base, $text, $corrupt_file) = @_;
    remove_tree($run);
    make_path("$run/conf", "$run/logs", "$run/temp");

    my %f = %files;
    $f{'codes.conf'} .= $codes_for{$base} // '';
    if ($corrupt_file) {
        my ($name, $op) = @$corrupt_file;
        $f{$name} = $file_ops{$op}->($f{$name});
    }
    write_file("$run/$_", $f{$_}) for keys %f;

    $text =~ s/\@RUN\@/$run/g;
    write_file("$run/conf/nginx.conf", $text);
    return "$run/conf/nginx.conf";
}

# the unbroken bases must pass
my $good = 0;
for my $b (@bases) {
    my ($st, $out) = nginx_t($run, prepare(@$b));
    $good++ if $st == 0;
    note("base \"$b->[0]\": " . ($st == 0 ? 'passes' : "FAILS:\n$out"));
}

figure('base configurations that pass nginx -t', $good, '==', scalar @bases);

srand($seed + 8);
my $t0 = time;

for my $i (1 .. $count) {
    my $b = $bases[ ($i - 1) % @bases ];
    my $text = $b->[1];
    my @used;

    for (1 .. 1 + int rand 3) {
        my $op = pick(@op_names);
        push @used, $op;
        $text = $ops{$op}->($text);
    }

    my $cf;
    if (rand() < 0.15) {
        $cf = [pick('tokens', 'tim.key', 'yx.secret'), pick(@file_op_names)];
        push @used, "file:$cf->[0]:$cf->[1]";
    }

    my ($st, $out) = nginx_t($run, prepare($b->[0], $text, $cf), 10);
    $n{tried}++;
    $n{accepted}++ if $st == 0;

    if ($st & 127) {
        push @signals, "#$i ($b->[0]; @used): signal " . ($st & 127);
        write_file("$dir/crash-$i.conf", $text);
        next;
    }

    # a message may span lines (a quoted word of several lines)
    my @messages;
    for my $line (split /\n/, $out) {
        if (!@messages || $line =~ m{^(?:nginx: |\d{4}/\d\d/\d\d )}) {
            push @messages, $line;
        } else {
            $messages[-1] .= "\n$line";
        }
    }

    for my $m (@messages) {
        my $leveled = $m =~ /\[(emerg|alert|crit|error|warn)\]/;
        # "upbot" in a path (the module's .so, a file of ours) says nothing;
        # nginx's own messages about our directives or variables (unknown
        # "upbot_x" variable, which nginx writes without a place) are not
        # the module's
        my $core = $m =~ $core_echo;
        my $module = $leveled && !$core
                     && ($m =~ s{\S*/\S*}{}gr) =~ $module_re;
        my $where = $m =~ / in \S+:\d+/;

        push @core_unplaced, "#$i ($b->[0]; @used): $m"
            if $leveled && $core && !$where
               && ($m =~ s{\S*/\S*}{}gr) =~ /upbot/;

        if ($module) {
            $module_lines++;
            $kinds{ shape($m) }++;
            push @module_lines_without_where, "#$i ($b->[0]; @used): $m"
                unless $where;
        }

        next unless $m =~ $window_re;
        if ($m =~ /open\(\) "[^"]*$window_re[^"]*" failed/) {
            # a word in a file's place is taken as a path, and a path is
            # shown, as nginx shows include's
            push @path_leaks, "#$i ($b->[0]; @used): $m";
        } elsif ($core) {
            push @core_leaks, "#$i ($b->[0]; @used): $m";
        } elsif (secret_moved($text)) {
            push @moved_leaks, "#$i ($b->[0]; @used): $m";
        } else {
            push @module_leaks, "#$i ($b->[0]; @used): $m";
            write_file("$dir/leak-$i.conf", $text);
            write_file("$dir/leak-$i.out", $out);
        }
    }
}

my $secs = time - $t0;

figure('corrupted configurations tried with nginx -t', $n{tried} // 0,
       '>=', 200);
info('  of them accepted (nginx -t passed)', $n{accepted} // 0);
info('  nginx -t runs per second', ($n{tried} // 0) / ($secs || 1));
figure('  nginx -t ended by a signal (or over 10 s)', scalar @signals,
       '==', 0);
note("  $_") for @signals[0 .. ($#signals < 4 ? $#signals : 4)];
info('  messages of the module (naming upbot, or its own words)',
     $module_lines // 0);
info('  kinds of module messages among them', scalar keys %kinds);
note("    $kinds{$_}  $_") for (sort { $kinds{$b} <=> $kinds{$a} } keys %kinds)
                               [0 .. (keys %kinds < 12 ? keys(%kinds) - 1 : 11)];
figure('  module messages without "in FILE:LINE"',
       scalar @module_lines_without_where, '==', 0);
note("  " . oneline($_)) for @module_lines_without_where[
    0 .. ($#module_lines_without_where < 4 ? $#module_lines_without_where : 4)];
info('  nginx\'s own messages naming upbot without a place',
     scalar @core_unplaced);
note("  " . oneline($_)) for @core_unplaced[0 .. ($#core_unplaced < 1 ? $#core_unplaced : 1)];
figure('  module messages showing a secret in its own place',
       scalar @module_leaks, '==', 0);
note("  " . oneline($_)) for @module_leaks[0 .. ($#module_leaks < 4 ? $#module_leaks : 4)];
figure('  module messages showing a secret moved into another directive',
       scalar @moved_leaks, '==', 0);
note("  " . oneline($_)) for @moved_leaks[0 .. ($#moved_leaks < 4 ? $#moved_leaks : 4)];
info('  nginx\'s own parser messages showing a secret (unknown directive)',
     scalar @core_leaks);
info('  a secret in a file\'s place, shown as its path (open() failed)',
     scalar @path_leaks);
note("  " . oneline($_)) for @path_leaks[0 .. ($#path_leaks < 1 ? $#path_leaks : 1)];
note("  " . oneline($_)) for @core_leaks[0 .. ($#core_leaks < 2 ? $#core_leaks : 2)];


# a message on one line, cut at 300 bytes
sub oneline {
    my $m = shift =~ s/\n/\\n/gr;
    return length $m > 300 ? substr($m, 0, 300) . '...' : $m;
}
