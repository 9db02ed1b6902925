# 003_mock_down.pl: the upstream is unavailable for a while, then comes back.
#
# 50 processing processes (40 end accepted, 10 in a dossier marked mock-final=rejected). Once the
# worker has seen them all processing, Signicat goes away: every API request is dropped without
# an answer (for a while), the tokens are revoked and the token endpoint answers 503, so the
# worker also has to get a new token. The items record their errors; once the faults are cleared
# every item must converge to its final status with exactly one history row per transition.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time usleep);

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 6 });

my $node = new_node('mock_down');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

my ($d_acc) = seed_and_watch($node, 40, 'order-1');
my ($d_rej) = seed_and_watch($node, 10, 'order-2 mock-final=rejected');

wait_query($node, 'the worker saw every item processing', 30,
	q{SELECT count(*) = 50 FROM signicat.watch WHERE status = 'processing' AND state = 'active'})
  or die('the items never got to processing');

# The outage. The first matching fault fires: token requests get 503; every other request is
# dropped 100 times (about two rounds), after which GETs reach the mock with a revoked token (401)
# and the worker has to ask for a new one, which the token endpoint refuses.
mock('POST', '/__mock/faults', [
	{ operation => 'token', status => 503, count => -1 },
	{ operation => '*', drop => JSON::PP::true, count => 100 },
]);
mock('POST', '/__mock/revoke-tokens');
is(mock('GET', '/__mock/tokens')->{valid}, 0, 'every issued token is revoked');

my %errors_seen;
my $sample_errors = sub {
	my ($rc, $out) = $node->psql('postgres',
		'SELECT DISTINCT last_error FROM signicat.watch WHERE last_error IS NOT NULL');
	$errors_seen{$_}++ for grep { length } split /\n/, ($out // '');
};
# an outage of a few seconds: every item fails at least 3 polls in a row (backing off to the cap)
wait_until('every item recorded 3 errors in a row, the token endpoint failure too', 40, sub {
	$sample_errors->();
	my $all = query($node,
		q{SELECT count(*) = 50 FROM signicat.watch WHERE errors >= 3 AND last_error IS NOT NULL});
	return $all eq 't' && grep { /^no access token/ } keys %errors_seen;
});
note "errors seen: " . join(' | ', sort keys %errors_seen);

ok((grep { !/^(HTTP |no access token)/ } keys %errors_seen),
	'a dropped connection was recorded as an item error');
# (the text is "no access token: could not obtain a Signicat access token": the token
# endpoint's status is in the error's DETAIL, which the worker does not keep)
ok((grep { /^no access token/ } keys %errors_seen),
	'the token endpoint failure was recorded as an item error');
my %faults = map { ($_->{operation} => $_) } @{ mock('GET', '/__mock/faults') };
ok(!exists $faults{'*'}, 'the 100 dropped requests were all made (that fault is used up)');
cmp_ok($faults{token}{fired}, '>=', 1, 'the worker asked for a new token (and got 503)');
is(query($node, q{SELECT count(*) FROM signicat.watch WHERE state <> 'active'}), 0,
	'no item changed state during the outage');
is(query($node, 'SELECT count(*) FROM signicat.status_history'), 50,
	'no transition was recorded during the outage');
my ($maxerr, $maxgap) = split /\|/, query($node,
	q{SELECT max(errors), max(next_poll_at - last_polled_at) <= interval '2.3 s' FROM signicat.watch});
note "most consecutive errors: $maxerr";
is($maxgap, 't', 'failed polls back off at most to poll_max_interval (2 s) plus jitter');

# the upstream comes back
mock('DELETE', '/__mock/faults');
wait_query($node, 'every item is done', 60,
	q{SELECT count(*) = 50 FROM signicat.watch WHERE state = 'done'});
usleep(300_000);

check_history($node, items => 50,
	final => { $d_acc => 'accepted', $d_rej => 'rejected' },
	paths => [ 'NULL>processing>accepted', 'NULL>processing>rejected' ]);
is(query($node, 'SELECT count(*) FROM signicat.watch WHERE errors <> 0'), 0,
	'the error counters were reset by the successful polls');
cmp_ok(mock('GET', '/__mock/tokens')->{valid}, '>=', 1, 'the worker got a new token');
check_no_crash($node, $log0);

done_testing();
