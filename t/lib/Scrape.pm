# What a scrape of upbot_metrics must hold, as one pattern for a block's
# response_body_like (t/070-metrics.t, t/071-metrics-providers.t):
#
#     use Scrape qw(has);
#     --- response_body_like eval
#     main::has('upbot_codes 3', 'upbot_picks_total{outcome="first"} 1')
#
# Each argument is a whole line, taken as it is (no pattern), or a qr//
# that must match nowhere in the body.

package Scrape;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(has);

sub has {
    my $p = join '', map { ref $_ ? "(?!.*$_)" : "(?=.*^\Q$_\E\$)" } @_;
    return qr/\A$p/ms;
}

1;
