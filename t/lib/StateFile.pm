package StateFile;

# The state file of "upbot_zone ... state=FILE", written and read by the
# tests on their own, from the format as src/ngx_http_upbot_state.h
# describes it (all numbers little-endian): a 40-byte header (magic
# "upbotst\n", version, entries, payload size, written at in unix ms,
# CRC-32 of the payload, CRC-32 of the header's first 36 bytes), then
# each entry: fetched (unix ms, 8 bytes), members, max_members (4 each),
# flags (1: gone), the lengths of key, name, face_url and url (2 each),
# then those bytes.
#
#     StateFile::encode(entries => [{ key => 'tim:prod @TGS#a', name => 'A',
#                                      age => 5 }], version => 1)
#
# An entry's "age" (seconds before now) stands for its "fetched" time.

use strict;
use warnings;

use Compress::Raw::Zlib ();
use Time::HiRes ();

our $Magic = "upbotst\n";


sub now_ms { return int(Time::HiRes::time() * 1000) }


sub encode {
    my %opt = @_;
    my $now = now_ms();
    my $payload = '';

    for my $e (@{ $opt{entries} || [] }) {
        my @s = map { $e->{$_} // '' } qw(key name face_url url);
        utf8::encode($_) for grep { utf8::is_utf8($_) } @s;
        my $fetched = $e->{fetched} // $now - int(($e->{age} // 0) * 1000);

        $payload .= pack('Q< L< L< C S< S< S< S<',
                         $fetched, $e->{members} // 0,
                         $e->{max_members} // 0, $e->{gone} ? 1 : 0,
                         map { length } @s)
                    . join('', @s);
    }

    my $head = $Magic . pack('L< L< Q< Q< L<', $opt{version} // 1,
                             $opt{count} // scalar @{ $opt{entries} || [] },
                             length $payload, $opt{written} // $now,
                             Compress::Raw::Zlib::crc32($payload));

    return $head . pack('L<', Compress::Raw::Zlib::crc32($head)) . $payload;
}


# the header's fields and the entries, or undef when it is not a whole file
sub decode {
    my $bytes = shift;

    return undef if length $bytes < 40 || substr($bytes, 0, 8) ne $Magic;

    my ($version, $count, $size, $written, $crc, $hcrc) =
        unpack('L< L< Q< Q< L< L<', substr($bytes, 8, 32));

    return undef if $hcrc != Compress::Raw::Zlib::crc32(substr($bytes, 0, 36))
                    || $size != length($bytes) - 40
                    || $crc != Compress::Raw::Zlib::crc32(substr($bytes, 40));

    my (@entries, $p);
    $p = 40;

    for (1 .. $count) {
        my ($fetched, $members, $max, $flags, @len) =
            unpack('Q< L< L< C S< S< S< S<', substr($bytes, $p, 25));
        $p += 25;

        my %e = (fetched => $fetched, members => $members,
                 max_members => $max, gone => $flags & 1);

        for my $k (qw(key name face_url url)) {
            $e{$k} = substr($bytes, $p, shift @len);
            $p += length $e{$k};
        }

        push @entries, \%e;
    }

    return undef if $p != length $bytes;

    return { version => $version, written => $written, entries => \@entries };
}

1;
