# 007_worker_plans.pl: the worker's plans must not read a whole table per item.
#
# The worker prepares its statements once and PostgreSQL keeps their plans. Three ways they once
# went wrong, each making every poll read all of signicat.watch (bench/run.sh, figure 3, fell to
# 1/10 or less):
#   - plans made while the table had a page or two (scan it: right then) were kept after a burst
#     of enrolments had made it thousands of pages (no VACUUM or ANALYZE came in between);
#   - when every item was done at the last VACUUM, the statistics said the partial index
#     watch_due (active items) was empty, and the per-item UPDATEs guarded by state = 'active'
#     chose to scan all of that index instead of the primary key;
#   - with statistics that said "empty", the claim joined the table to itself in a nested loop
#     that read it again for every item claimed.
# Every plan the worker runs is logged by auto_explain, and we read them.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 2 });

my $node = new_node('worker_plans', <<'EOC');
shared_preload_libraries = 'signicat,auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_format = text
autovacuum = off
signicat.poll_batch_size = 200
signicat.poll_connections = 8
EOC
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

my $done = 0;

# enrol(COUNT): enrol COUNT items and wait until all are done; the plans the worker logged
# meanwhile for its statements on signicat.watch: (per-item updates, claims).
sub enrol
{
	my ($count) = @_;
	my $offset = log_offset($node);
	seed_and_watch($node, $count);
	$done += $count;
	wait_query($node, "$done items done", 120,
		qq{SELECT count(*) = $done FROM signicat.watch WHERE state = 'done'});
	my @plans = grep { /Query Text: (?:WITH w AS \(\s*)?UPDATE signicat\.watch/ }
	  split /LOG:\s+duration: [0-9.]+ ms\s+plan:/, log_after($node, $offset);
	my @by_id = grep { /WHERE id = \$1/ } @plans;
	my @claims = grep { /claimed_until = now\(\) \+/ } @plans;
	note scalar(@by_id) . ' per-item plans, ' . scalar(@claims) . ' claims';
	cmp_ok(scalar(@by_id), '>=', 2 * $count, "$count items: their per-item updates were logged");
	return (\@by_id, \@claims);
}

# the last 200 per-item updates of a large batch find their item by primary key
sub late_by_primary_key
{
	my ($by_id, $what) = @_;
	my @late = @{$by_id}[-200 .. -1];
	my @scans = grep { !/using watch_pkey/ } @late;
	is(scalar(@scans), 0, "$what: the last 200 per-item updates use the primary key")
	  or diag($scans[0]);
}

# 1. plans made for a one-page table (analyzed as such), then 2,000 more items without VACUUM
#    or ANALYZE in between
enrol(5);
query($node, 'VACUUM ANALYZE signicat.watch, signicat.status_history');
enrol(5);
my ($by_id, $claims) = enrol(2000);
late_by_primary_key($by_id, 'after growth');

# 2. statistics of a table whose items are all done: watch_due looks empty
query($node, 'VACUUM ANALYZE signicat.watch, signicat.status_history');
is(query($node, q{SELECT reltuples FROM pg_class WHERE oid = 'signicat.watch_due'::regclass}),
	'0', 'watch_due is empty as far as the planner knows');
($by_id, $claims) = enrol(1000);
my @on_due = grep { /Index (?:Only )?Scan(?: Backward)? using watch_due/ } @$by_id;
is(scalar(@on_due), 0, 'no per-item update reads the watch_due index') or diag($on_due[0]);
my @looped = grep { /Nested Loop/ } @$claims;
is(scalar(@looped), 0, 'no claim joins the table to itself in a nested loop')
  or diag($looped[0]);
late_by_primary_key($by_id, 'after VACUUM ANALYZE of an all-done table');

check_no_crash($node, 0);
done_testing();
