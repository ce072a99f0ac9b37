# SipHash-2-4 (src/ngx_http_upbot_siphash.c), which keys the token check
# and $request_id, against the known answers of Aumasson and Bernstein's
# paper and reference code: key 00..0f, message 00 01 02 ... of a length.
# Built with the headers of the tree util/build.sh configured, or of
# TEST_UPBOT_NGINX_TREE (make test-matrix's tree of each version); skipped
# without one, as when the module is built elsewhere.

use strict;
use warnings;

use File::Path qw(make_path);
use File::Spec;
use Test::More;

my $tree = File::Spec->rel2abs($ENV{TEST_UPBOT_NGINX_TREE}
                                || 'build/nginx-src');

plan skip_all => "no configured nginx tree in $tree (make build)"
    unless -e "$tree/objs/ngx_auto_config.h";

my $dir = File::Spec->rel2abs('t/servroot-siphash');
make_path($dir);

my $cc = $ENV{CC} || 'cc';
my @inc = map { ('-I', "$tree/$_") } qw(src/core src/event src/os/unix objs);

is(system($cc, '-O2', '-Isrc', @inc, '-o', "$dir/kat", 't/lib/siphash_kat.c',
          'src/ngx_http_upbot_siphash.c'), 0, 'the known-answer program builds')
    or BAIL_OUT('cannot build t/lib/siphash_kat.c');

my %got = map { split ' ' } `$dir/kat 0 15`;

is($got{0}, '726fdb47dd0e0e31', 'the empty message (reference vector 0)');
is($got{15}, 'a129ca6149be45e5', '15 bytes: the paper\'s example (appendix A)');

done_testing();
