#!/usr/bin/env perl
# 5. Mutated request bodies: FAULTS_MUTANTS (3,000) bodies for each API,
# made from the seeds' bodies (and the bench's) with a fixed random seed:
# bit flips, bytes replaced, truncation, spans deleted or repeated, fields
# repeated or removed, huge and odd numbers, deep nesting, invalid UTF-8,
# bad escapes, long strings, types changed, many items, junk, splices of
# two seeds.  Each body is sent three times, to three locations of one
# server that differ only in how nginx holds the body:
#
#   mem    client_body_buffer_size 1m: in memory
#   small  client_body_buffer_size 128: spooled to a temp file as soon as
#          it is more than what came with the headers
#   file   client_body_in_file_only clean: always from a temp file
#
# and a fourth time chunked (Transfer-Encoding: chunked, pieces of 1 to 700
# bytes) to "small".  Every answer must be a row of the error table or one
# of nginx's own 4xx pages; the four answers to one body must be identical
# (status and body); no worker may exit on a signal.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Faults;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep time);

my $mutants = $ENV{FAULTS_MUTANTS} || 3000;
my $seed = $ENV{FAULTS_SEED} || 20261201;
my $clients = 2;

my $dir = workdir();
my $port = port(0);
my $top = top();


# --- seeds ------------------------------------------------------------------

my %seeds = (
    media_info => [
        # seed 000, verbatim
        qq({\n    "account_info": {\n        "account_type": 2,\n        "appid": "xxxx",\n        "openid": "xxxx"\n    },\n    "media_type": 2,\n    "code": "IsFXtWUZ3x3hywGl ",\n    "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"\n}),
        slurp("$top/bench/requests/media-info.json"),
        media_info_body('st', 'compact'),
    ],
    media_event => [
        # seed 001, verbatim
        qq({\n    "head": {\n        "account_info": {\n            "account_type": 2,\n            "appid": "xxxx",\n            "openid": "xxxx"\n        },\n        "device_info": {\n            "device_type": 1,\n            "uuid": "xxxx"\n        }\n    },\n    "items": [{\n        "event_id": "1002",\n        "event_time": 1699274742,\n        "media_type": 2,\n        "code": "IsFXtWUZ3x3hywGl ",\n        "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"\n    }]\n}),
        slurp("$top/bench/requests/media-event.json"),
        event_batch('compact', 3, 8) =~ s/"items"/"item"/r,
    ],
);

for my $api (keys %seeds) {
    $_ ne '' or die "an empty seed for $api" for @{ $seeds{$api} };
}


# --- mutations --------------------------------------------------------------

my @huge = ('99999999999999999999999', '18446744073709551616',
            '9223372036854775807', '9223372036854775808', '-9223372036854775809',
            '4294967296', '-1', '-0', '0', '1e400', '1E2', '0.5', '2.0',
            '1e-400', '00', '01', '-', '1.', '.5', '0x10', 'Infinity', 'NaN',
            '1' x 400);
my @bad_utf8 = ("\xff", "\xc0\x80", "\xc1\xbf", "\xed\xa0\x80",
                "\xf4\x90\x80\x80", "\xe4\xb8", "\xe4", "\x80", "\xf8\x88\x80\x80\x80",
                "\xef\xbf\xbf", "\xf0\x9f\x98", "\x00", "\x1f", "\x7f");
my @escapes = ('\\u0000', '\\ud800', '\\udfff\\ud800', '\\u12', '\\x41',
               '\\/', '\\uD834\\uDD1E', '\\u0022', '\\', '\\u', '\\uzzzz',
               '\\n\\t\\r\\b\\f', '\\u00e9', '\\U0041', "\\'");
my @values = ('null', 'true', 'false', '[]', '{}', '"1"', '1', '-1', '0',
              '1.5', '""', '" "', '[1]', '{"a":1}', '"\\u0000"', '2',
              '3', '4', '"1110201"', '"st"');
my @interesting = map { chr } (0, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b,
                               0x7d, 0x5c, 0x7f, 0x80, 0xff, 0x0a, 0x09, 0x30);
my @junk = (' ', "\n", 'x', '{}', "\0", ',', ']', '}', '"', 'null',
            "\xef\xbb\xbf", "\r\n\r\n", '[', ':', '{"a":1}');

# a scalar member ("key": value) of the body: [start, end, key, value start]
sub members {
    my $s = shift;
    my @m;
    while ($s =~ /("([A-Za-z_]+)"\s*:\s*)("[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null)/g) {
        push @m, [$-[1], $+[3], $2, $-[3], $+[3]];
    }
    return @m;
}

# a member whose value is an object or an array, one of them at random:
# [start, end] (the ends are looked for only for the one picked: a deeply
# nested body has thousands of them)
sub container {
    my $s = shift;
    my @c;
    while ($s =~ /"[A-Za-z_]+"\s*:\s*([\[{])/g) {
        push @c, [$-[0], $-[1]];
    }
    return () unless @c;
    my $c = $c[ int rand @c ];
    my $end = balanced($s, $c->[1]) // return ();
    return [$c->[0], $end];
}

sub balanced {
    my ($s, $i) = @_;
    my ($depth, $in) = (0, 0);
    for my $j ($i .. length($s) - 1) {
        my $ch = substr($s, $j, 1);
        if ($in) {
            if ($ch eq '\\') { $j++; next }
            $in = 0 if $ch eq '"';
            next;
        }
        if ($ch eq '"') { $in = 1 }
        elsif ($ch eq '{' || $ch eq '[') { $depth++ }
        elsif ($ch eq '}' || $ch eq ']') {
            return $j + 1 if --$depth == 0;
        }
    }
    return undef;
}

sub pick { $_[ int rand @_ ] }
sub pos_in { int rand(length($_[0]) + 1) }

my ($other);      # the other seeds, for splices

my %ops = (
    bitflip => sub {
        my $s = shift;
        return $s unless length $s;
        my $i = int rand length $s;
        substr($s, $i, 1) = chr(ord(substr($s, $i, 1)) ^ (1 << int rand 8));
        $s;
    },
    byte => sub {
        my $s = shift;
        return $s unless length $s;
        substr($s, int rand length $s, 1) = pick(@interesting);
        $s;
    },
    truncate => sub { my $s = shift; substr($s, 0, pos_in($s)) },
    delete_span => sub {
        my $s = shift;
        my $i = pos_in($s);
        substr($s, $i, 1 + int rand 16, '') if $i < length $s;
        $s;
    },
    repeat_span => sub {
        my $s = shift;
        my $i = pos_in($s);
        my $span = substr($s, $i, 1 + int rand 32);
        substr($s, $i, 0) = $span x (1 + int rand 3);
        $s;
    },
    repeat_field => sub {
        my $s = shift;
        my @m = members($s) or return $s;
        my $m = pick(@m);
        my $text = substr($s, $m->[0], $m->[1] - $m->[0]);
        substr($s, $m->[1], 0) = ",$text";
        $s;
    },
    repeat_container => sub {
        my $s = shift;
        my $c = container($s) or return $s;
        my $text = substr($s, $c->[0], $c->[1] - $c->[0]);
        substr($s, $c->[1], 0) = ",$text";
        $s;
    },
    remove_field => sub {
        my $s = shift;
        my @m = (members($s), container($s)) or return $s;
        my $m = pick(@m);
        substr($s, $m->[0], $m->[1] - $m->[0], '');
        $s =~ s/,(\s*)([}\]])/$1$2/ if rand() < 0.7;    # usually tidy
        $s;
    },
    huge_number => sub {
        my $s = shift;
        my @n;
        push @n, [$-[1], $+[1]] while $s =~ /:\s*(-?\d+)/g;
        my $n = pick(@n) // return $s;
        substr($s, $n->[0], $n->[1] - $n->[0], pick(@huge));
        $s;
    },
    value => sub {
        my $s = shift;
        my @m = members($s) or return $s;
        my $m = pick(@m);
        substr($s, $m->[3], $m->[4] - $m->[3], pick(@values));
        $s;
    },
    nesting => sub {
        my $s = shift;
        my @m = members($s) or return $s;
        my $m = pick(@m);
        my $n = pick(14, 15, 16, 17, 64, 1000, 50000);
        my $v = substr($s, $m->[3], $m->[4] - $m->[3]);
        my $deep = rand() < 0.5 ? ('[' x $n) . $v . (']' x $n)
                                : ('{"a":' x $n) . $v . ('}' x $n);
        $deep = substr($deep, 0, int rand length $deep) if rand() < 0.2;
        substr($s, $m->[3], $m->[4] - $m->[3], $deep);
        $s;
    },
    bad_utf8 => sub {
        my $s = shift;
        my @m = grep { substr($s, $_->[3], 1) eq '"' } members($s)
            or return $s;
        my $m = pick(@m);
        my $at = $m->[3] + 1 + int rand($m->[4] - $m->[3] - 1);
        substr($s, $at, 0) = pick(@bad_utf8);
        $s;
    },
    escape => sub {
        my $s = shift;
        my @m = grep { substr($s, $_->[3], 1) eq '"' } members($s)
            or return $s;
        my $m = pick(@m);
        substr($s, $m->[3] + 1, 0) = pick(@escapes);
        $s;
    },
    long_string => sub {
        my $s = shift;
        my @m = grep { substr($s, $_->[3], 1) eq '"' } members($s)
            or return $s;
        my $m = pick(@m);
        my $n = pick(63, 64, 65, 255, 256, 257, 4096, 70000);
        substr($s, $m->[3], $m->[4] - $m->[3],
               '"' . (rand() < 0.5 ? 'x' x $n : "\xe7\x81\xab" x ($n / 3 + 1))
               . '"');
        $s;
    },
    many_items => sub {
        my $s = shift;
        $s =~ /"items?"\s*:\s*\[/g or return $s;
        my $open = $+[0] - 1;
        my $end = balanced($s, $open) // return $s;
        my $inner = substr($s, $open + 1, $end - $open - 2);
        my $n = pick(0, 2, 99, 100, 101, 1000);
        my $first = $inner =~ /^\s*(\{.*?\})/s ? $1 : '{}';
        substr($s, $open + 1, $end - $open - 2,
               join(',', ($first) x $n));
        $s;
    },
    junk => sub {
        my $s = shift;
        substr($s, pos_in($s), 0) = rand() < 0.5 ? pick(@junk)
            : join '', map { chr int rand 256 } 1 .. 1 + int rand 8;
        $s;
    },
    trailing => sub { $_[0] . pick(@junk) },
    whitespace => sub {
        my $s = shift;
        substr($s, pos_in($s), 0) = pick(' ' x 5000, "\x0b", "\xc2\xa0",
                                          "\x0c", "\t\r\n", "\n" x 100);
        $s;
    },
    splice => sub {
        my $s = shift;
        my $o = pick(@$other);
        substr($s, 0, pos_in($s)) . substr($o, pos_in($o));
    },
    type_of_top => sub {
        pick('[' . $_[0] . ']', '"' . $_[0] . '"', '', 'null', '[]',
             $_[0] . $_[0], "\xef\xbb\xbf" . $_[0]);
    },
);

my @op_names = sort keys %ops;

sub mutants {
    my ($api) = @_;
    my @out;
    my $seeds = $seeds{$api};
    $other = [map { @$_ } values %seeds];

    srand($seed + ($api eq 'media_info' ? 0 : 1));

    my %seen = map { $_ => 1 } @$seeds;

    for my $i (1 .. $mutants) {
        my $s = $seeds->[ ($i - 1) % @$seeds ];
        my @used;

        # one to three mutations, and more until the body is a new one
        for my $round (1 .. 20) {
            my $op = pick(@op_names);
            push @used, $op;
            $s = $ops{$op}->($s);
            $s = substr($s, 0, 400_000) if length $s > 400_000;
            last if $round >= 1 + int rand 3 && !$seen{$s};
        }

        $seen{$s} = 1;
        push @out, [$s, join('+', @used)];
    }

    return @out;
}


# --- nginx ------------------------------------------------------------------

my $extra = '';

for my $api (['m', 'upbot_get_media_info'], ['e', 'upbot_report_media_event']) {
    my ($l, $d) = @$api;
    $extra .= <<"_EOC_";
        location = /$l-mem {
            $d;
            client_body_buffer_size  1m;
        }
        location = /$l-small {
            $d;
            client_body_buffer_size  128;
        }
        location = /$l-file {
            $d;
            client_body_in_file_only  clean;
        }
_EOC_
}

my $conf = upbot_conf(dir => $dir, port => $port, workers => 2,
                      max_string => 256,        # the default limit
                      http_extra => <<'_EOC_', server_extra => $extra);
    client_max_body_size  1m;
    upbot_codes {
        IsFXtWUZ3x3hywGl  static  g1  url=https://example.com/seed;
        bench-yx          static  g1  url=https://example.com/bench;
    }
_EOC_

my $master = start_nginx(dir => $dir, port => $port, conf => $conf);

my %bodies = (media_info => [mutants('media_info')],
              media_event => [mutants('media_event')]);
my $t0 = time;

# each client sends its share (every $clients-th body of both APIs)
for my $c (0 .. $clients - 1) {
    spawn("$dir/client-$c.txt", sub {
        my $fh = shift;
        srand($seed + 100 + $c);          # the chunks' sizes
        for my $api (sort keys %bodies) {
            my $l = $api eq 'media_info' ? 'm' : 'e';
            my $list = $bodies{$api};
            for (my $i = $c; $i < @$list; $i += $clients) {
                my @got;
                for my $where (qw(mem small file)) {
                    my $r = post_api($port, "/$l-$where", $list->[$i][0],
                                     timeout => 10);
                    push @got, [$where, $r];
                }
                # and chunked, in pieces of 1 to 700 bytes, to the small
                # buffer
                my @sizes = map { 1 + int rand 700 } 1 .. 4;
                push @got, ['chunked',
                            post_api($port, "/$l-small", $list->[$i][0],
                                     timeout => 10, chunks => \@sizes)];
                my @class = map { kind($_->[1]) } @got;
                my $same = 1;
                for my $g (@got[1 .. $#got]) {
                    $same = 0 if $g->[1]{status} != $got[0][1]{status}
                                 || $g->[1]{body} ne $got[0][1]{body};
                }
                print $fh join(' ', $api, $i, $same, @class), "\n";
            }
        }
    });
}

reap_all(240);
my $secs = time - $t0;
my $alive = nginx_alive($master);
stop_nginx($master, 20);


# --- figures ----------------------------------------------------------------

my (%n, %bad, %differ, %kinds, @examples);

for my $line (read_lines(glob "$dir/client-*.txt")) {
    my ($api, $i, $same, @class) = split ' ', $line;
    next unless @class == 4;
    $n{$api}++;
    for my $c (@class) {
        $kinds{$api}{$c}++;
        $bad{$api}++, push @examples, [$api, $i, "answer $c"]
            if $c =~ /^F/;
    }
    if (!$same) {
        $differ{$api}++;
        push @examples, [$api, $i, "answers differ: @class"];
    }
}

for my $api (qw(media_info media_event)) {
    my $name = $api eq 'media_info' ? 'GetMediaInfo' : 'ReportMediaEvent';
    figure("$name: mutated bodies sent (x4: mem, small, file, chunked)",
           $n{$api} // 0, '>=', $mutants);
    figure("  answers neither a table row nor nginx's own 4xx",
           $bad{$api} // 0, '==', 0);
    figure("  bodies whose four answers differ", $differ{$api} // 0,
           '==', 0);
    my $k = $kinds{$api} // {};
    note("  answers: " . join(', ', map { "$_ $k->{$_}" }
                                    sort { $k->{$b} <=> $k->{$a} } keys %$k));
}

info('requests per second (4 per body)',
     4 * (($n{media_info} // 0) + ($n{media_event} // 0)) / ($secs || 1));
figure('nginx master alive', $alive, '==', 1);

my %shown;
mkdir "$dir/failing";

for my $e (@examples) {
    my ($api, $i, $why) = @$e;
    next if $shown{"$api $i"}++ || keys %shown > 8;
    my ($body, $ops) = @{ $bodies{$api}[$i] };
    my $file = "$dir/failing/$api-$i.json";
    write_file($file, $body);
    my $show = substr($body, 0, 160) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ger;
    note("$api #$i ($ops): $why; body (" . length($body) . " bytes, "
         . md5_hex($body) . "): $show");
}

log_figures($dir);


# T<ret>/<status> for a table row, N<status> for nginx's own 4xx page,
# F<status>:<what> for anything else
sub kind {
    my $r = shift;
    my $ret = table_answer($r);
    return "T$ret/$r->{status}" if defined $ret;
    return "N$r->{status}"
        if $r->{complete} && $r->{status} >= 400 && $r->{status} < 500
           && ($r->{headers}{'content-type'} // '') =~ m{^text/html};
    my $what = $r->{error} // ($r->{complete} ? 'not-a-table-row' : 'incomplete');
    $what =~ s/\s+/_/g;
    return "F$r->{status}:$what";
}
