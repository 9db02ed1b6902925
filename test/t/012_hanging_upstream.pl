# 012_hanging_upstream.pl: items whose polls hang do not starve the items that answer.
#
# 16 items whose every GET hangs (the mock never answers them) and one healthy item, with
# poll_connections = 8: before, every round waited for its hanging requests (a wave of 8 per
# signicat.timeout), so the healthy item went unpolled for tens of seconds. Now a poll has its own
# shorter timeout (signicat.poll_timeout), answers are recorded while other requests still hang,
# and items whose last poll failed may hold at most half of the connections.
#
# Expected: once the hanging items have failed once, the healthy item is polled within twice its
# poll interval (here poll_max_interval 2 s plus 10% jitter: 4.4 s), and before that within
# 2 poll timeouts more (16 hanging items can take every connection for two waves at first). The
# gaps are read from the mock's receive times, so the test's own speed does not enter them; the
# test watches 12 s of polls, far more than the bound, however slow the machine is.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 100000 });

my $node = new_node('hanging', <<'EOC');
signicat.poll_connections = 8
signicat.poll_interval = '1s'
signicat.poll_max_interval = '2s'
signicat.poll_timeout = '1s'
EOC
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

my $hang = mock('POST', '/__mock/seed-processes', { count => 16, status => 'processing', provider => 'onfido' });
mock('POST', '/__mock/faults', { operation => 'assure_get_process', path_contains => $hang->{dossierId},
	hang => JSON::PP::true, count => -1 });
my $array = join(',', map { "'$_'" } @{ $hang->{processIds} });
query($node, "SELECT count(signicat.watch_add('assure_process', p::uuid, '$hang->{dossierId}'::uuid))
	FROM unnest(ARRAY[$array]::text[]) p");
my ($d_ok, $p_ok) = seed_and_watch($node, 1);
my $healthy = $p_ok->[0];

my $times = sub {
	[ map { $_->{received_at} } grep { $_->{path} =~ /\Q$healthy\E/ }
	  @{ mock('GET', '/__mock/requests?operation=assure_get_process') } ];
};
# watch the healthy item's polls over 12 s of the mock's clock
my $t;
ok(wait_until('the healthy item has been polled for 12 s', 120, sub {
	$t = $times->();
	return @$t >= 2 && $t->[-1] - $t->[0] >= 12;
}), 'the healthy item kept being polled');
my @gaps = map { $t->[$_] - $t->[ $_ - 1 ] } 1 .. $#$t;
note sprintf('%d polls of the healthy item, gaps: %s', scalar @$t, join(' ', map { sprintf '%.2f', $_ } @gaps));

# the first gaps may include the hanging items' first waves (2 x poll_timeout)
my $first = $t->[0];
my @late = grep { $t->[$_] - $first > 4 } 1 .. $#$t;
my $max_late = 0;
$max_late = $_ > $max_late ? $_ : $max_late for map { $t->[$_] - $t->[ $_ - 1 ] } @late;
my $max_all = 0;
$max_all = $_ > $max_all ? $_ : $max_all for @gaps;
cmp_ok($max_all, '<=', 2 * 2.2 + 2 * 1 + 0.5, 'no gap longer than twice the poll interval plus two poll timeouts');
cmp_ok($max_late, '<=', 2 * 2.2, 'after the first waves, no gap longer than twice the poll interval');

my ($errors, $in_flight_max) = split /\|/, query($node, qq{
	SELECT min(errors) FROM signicat.watch WHERE dossier_id = '$hang->{dossierId}'});
cmp_ok($errors, '>=', 1, 'the hanging items recorded their timeouts');
is(query($node, qq{SELECT errors FROM signicat.watch WHERE item_id = '$healthy'}), 0,
	'the healthy item recorded no error');
like(query($node, qq{SELECT last_error FROM signicat.watch WHERE dossier_id = '$hang->{dossierId}' LIMIT 1}),
	qr/timed out/i, 'a hanging poll is recorded as timed out');
mock('DELETE', '/__mock/faults');
check_no_crash($node, $log0);

done_testing();
