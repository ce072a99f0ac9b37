# The module reads the files upbot_codes includes with a reader of its own
# (src/ngx_http_upbot_conf.c), and nginx -T has nginx's reader read them
# (so that it can show them): the two must see the same words, lines and
# mistakes.  Generated files, the same seed every run, are tested both ways
# and what nginx says must be the same, byte for byte:
#
#   * rows of words quoted, escaped and commented every which way, the last
#     one's word "media_type=..." shown back in the error it makes;
#   * junk: tokens in any order, mostly ending in an error;
#   * words and comments about 4096 bytes long, near the edge of nginx's
#     buffer, where it says "too long parameter" or not;
#   * mistakes only a whole pool shows, which name the rows' file and lines.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use NginxMain;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $dir = tempdir('upbot-reader-XXXXXX', TMPDIR => 1, CLEANUP => 1);

mkdir "$dir/logs";

write_file("$dir/nginx.conf", main_prelude() . <<"_EOC_");
error_log  $dir/logs/error.log;
pid        $dir/logs/nginx.pid;

events {
}

http {
    upbot_codes {
        include  $dir/rows.conf;
    }
}
_EOC_

srand(20261202);

my @plain = ('a' .. 'z', 0 .. 9, qw(. _ / : = - ? &));

sub pick { return $_[int rand @_] }

sub plain {
    return join '', map { pick(@plain) } 1 .. 1 + int rand 8;
}

# a piece of a word between quotes: anything goes but the quote itself,
# unless escaped
sub inside {
    my $q = shift;
    return join '', map {
        pick(plain(), ' ', ';', '{', '}', '#', '$', '${x}', "\n", "\t",
             '\\t', '\\n', '\\r', '\\\\', "\\$q", '\\x', '中文',
             $q eq '"' ? "'" : '"')
    } 1 .. 1 + int rand 5;
}

# a word, $prefix first: bare (with escapes), "double" or 'single' quoted
sub word {
    my $prefix = shift // '';
    my $kind = int rand 3;

    return $prefix . join '', map {
        pick(plain(), '\\ ', '\\;', '\\"', '\\{', '\\t', '\\\\', '$', '${y}',
             '#', '}', '"', "'")
    } 1 .. 1 + int rand 3
        if $kind == 0;

    my $q = $kind == 1 ? '"' : "'";
    return $q . $prefix . inside($q) . $q;
}

sub gap {
    return pick(' ', '  ', "\t", "\n", "\r\n", " # a comment; {\n",
                "\n# } \"\n  ", " \t ");
}

# rows that read, then one whose option is shown back in its error
sub rows {
    my $text = '';

    for my $i (1 .. 1 + int rand 30) {
        my $code = rand() < 0.2 ? "\"c$i\"" : "c$i";
        $text .= join(gap(), $code, 'static', pick('g', "'g'", '"g"'),
                      word('url=x'), word('name='))
                 . pick(';', ' ;', "\n;") . pick("\n", ' ', "\r\n", '');
    }

    return $text . join(gap(), 'z', 'static', 'g', 'url=x',
                        word('media_type=')) . ";\n";
}

sub junk {
    return join '', map {
        pick('c1', 'static', 'g', 'url=x', 'name=y', ';', '{', '}', '"',
             "'", '\\', '#', "\n", ' ', "\t", "\r", '$', '${', ')', 'a"b',
             '"q"', "'q'", '"q"x', '"q")', 'include', ';;', "\n;\n")
    } 1 .. 5 + int rand 60;
}

# a word or a comment of about 4096 bytes, somewhere in a file of rows
sub long {
    my $len = 4080 + int rand 32;
    my $text = join '', map { "c$_ static g url=x;" . pick("\n", ' ') }
                       1 .. int rand 120;
    my $kind = int rand 4;

    return $text . "z static g url=" . ('x' x $len) . ";\n" if $kind == 0;
    return $text . "z static g \"url=" . ('x' x $len) . "\";\n" if $kind == 1;
    return $text . '#' . ('x' x $len) . "\nz static g url=x;\n" if $kind == 2;
    return $text . "z static g \"url=" . ('x' x $len) . "\n";
}

# what nginx -t (the module's reader) and nginx -T (nginx's) say; -T's
# standard output is the configuration, shown
sub said {
    my $flag = shift;
    my $out = `$nginx -p $dir/ -c $dir/nginx.conf $flag 2>&1 >/dev/null`;
    $out =~ s{^(?:nginx: |[\d/]+ [\d:]+ )\[(\w+)\] (?:\d+#\d+: )?}{[$1] }mg;
    return $out;
}

my %seen;

# and what only a whole pool shows, which names the rows' file and lines
my @pools = (
    "c1 static g1 url=x;\n\nc1 static g1 url=y;\n",
    "c1 static g1 url=x fallback;\nc2 static g url=x;\nc1 static g2 url=x"
    . " fallback;\n",
    "c1 static g1 url=x media_type=2;\n# 2\nc1 static g2 url=x"
    . " media_type=3;\n",
    "c1 static g1 url=x max_views=9;\n",
    "c1 tim:none g1;\n",
);

for my $case ((map { ['rows', rows()] } 1 .. 60),
              (map { ['junk', junk()] } 1 .. 60),
              (map { ['long', long()] } 1 .. 30),
              (map { ['pool', $_] } @pools))
{
    my ($kind, $text) = @$case;

    write_file("$dir/rows.conf", $text);

    my $t = said('-t');
    my $T = said('-T');

    my ($what) = $t =~ /\[(?:emerg|warn)\] ([^"]*)/;
    $seen{$kind}{$what // 'ok'}++;

    next if is($t, $T, "$kind: " . ($what // 'ok'));

    (my $name = "$FindBin::Bin/../build/reader-$kind-" . (0 + keys %seen)
               . ".conf") =~ s{/t/\.\./}{/};
    mkdir "$FindBin::Bin/../build";
    write_file($name, $text);
    diag("the file: $name");
}

# the cases reached the parts they are for
ok($seen{rows}{'invalid value in '}, 'rows: the word shown');
ok(keys %{ $seen{junk} } >= 5, 'junk: several mistakes ('
   . join(', ', sort keys %{ $seen{junk} }) . ')');
ok($seen{long}{'too long parameter '} && $seen{long}{ok},
   'long: too long, and not');
is(scalar(keys %{ $seen{pool} }), scalar @pools, 'pool: each its mistake');

done_testing();
