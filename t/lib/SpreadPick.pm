# upbot_pick spread, computed independently of the module: nginx's
# MurmurHash2 of the openid and of each group id, the MurmurHash3
# finaliser, highest score wins.

package SpreadPick;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(spread_pick);

sub murmur2 {
    use integer;
    my @d = unpack("C*", shift);
    my $len = @d;
    my $h = $len & 0xffffffff;
    my $i = 0;
    while ($len - $i >= 4) {
        my $k = $d[$i] | ($d[$i+1] << 8) | ($d[$i+2] << 16) | ($d[$i+3] << 24);
        $k = ($k * 0x5bd1e995) & 0xffffffff;
        $k ^= $k >> 24;
        $k = ($k * 0x5bd1e995) & 0xffffffff;
        $h = ($h * 0x5bd1e995) & 0xffffffff;
        $h ^= $k;
        $i += 4;
    }
    my $rest = $len - $i;
    $h ^= $d[$i+2] << 16 if $rest >= 3;
    $h ^= $d[$i+1] << 8 if $rest >= 2;
    if ($rest >= 1) {
        $h ^= $d[$i];
        $h = ($h * 0x5bd1e995) & 0xffffffff;
    }
    $h ^= $h >> 13;
    $h = ($h * 0x5bd1e995) & 0xffffffff;
    $h ^= $h >> 15;
    return $h;
}

sub mix {
    use integer;
    my $h = shift;
    $h ^= $h >> 16;
    $h = ($h * 0x85ebca6b) & 0xffffffff;
    $h ^= $h >> 13;
    $h = ($h * 0xc2b2ae35) & 0xffffffff;
    $h ^= $h >> 16;
    return $h;
}

sub spread_pick {
    my ($openid, @ids) = @_;
    my $user = murmur2($openid);
    my ($best, $score);
    for my $id (@ids) {
        my $s = mix($user ^ murmur2($id));
        ($best, $score) = ($id, $s) if !defined $score || $s > $score;
    }
    return $best;
}

1;
