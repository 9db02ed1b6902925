# 007_worker_plans.pl: no plan of the worker may read a whole table once per item.
#
# The worker prepares its statements once and PostgreSQL keeps their plans. Ways they once went
# wrong, each making every poll read all of signicat.watch (bench/run.sh, figure 3, fell to
# 1/10 or less):
#   - plans made while the table had a page or two (scanning it is right then) were kept after a
#     burst of enrolments had made it many times larger, with no VACUUM or ANALYZE in between;
#   - when every item was done at the last VACUUM, the statistics said the partial index
#     watch_due (active items) was empty, and the result updates guarded by state = 'active'
#     read all of that index for every item instead of using the primary key;
#   - with statistics that said "empty", the claim joined the table to itself in a nested loop
#     that read it again for every item claimed.
# Every plan the worker runs is logged by auto_explain (JSON), and we walk them: no nested loop
# may have a scan of all of watch (or of watch_due) as its inner side, no result update may use
# watch_due at all, and by the end of a large batch neither a result update (one per item) nor a
# foreign key check of a status_history row (a plan PostgreSQL caches in the worker) may read a
# whole table.

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
auto_explain.log_format = json
auto_explain.log_nested_statements = on
autovacuum = off
signicat.poll_batch_size = 200
signicat.poll_connections = 8
EOC
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

# worker_plans(OFFSET): the plans (decoded JSON) logged after OFFSET for the worker's claims, its
# result updates and the foreign key checks of its status_history rows: (claims, results, checks).
sub worker_plans
{
	my ($offset) = @_;
	my (@claims, @results, @checks);
	for my $block (split /LOG:\s+duration: [0-9.]+ ms\s+plan:\n/, log_after($node, $offset))
	{
		# the plan's lines start with a tab; the next log line does not
		my @lines;
		for my $line (split /\n/, $block)
		{
			last unless $line =~ s/^\t//;
			push @lines, $line;
		}
		next unless @lines;
		my $plan = eval { dec_json(join("\n", @lines)) } or next;
		my $text = $plan->{'Query Text'} // '';
		if ($text =~ /^SELECT 1 FROM ONLY "signicat"\."watch"/) { push @checks, $plan; }
		next unless $text =~ /UPDATE signicat\.watch/;
		if ($text =~ /claimed_until = now\(\) \+/) { push @claims, $plan; }
		elsif ($text =~ /WHERE id = \$1/) { push @results, $plan; }
	}
	return (\@claims, \@results, \@checks);
}

# nodes(PLAN): every node of a plan tree
sub nodes
{
	my ($n) = @_;
	return ($n, map { nodes($_) } @{ $n->{Plans} // [] });
}

# whole_scan(NODE): a scan of all of watch or status_history (Seq Scan, or an index scan of
# watch_due, whose conditions do not pick rows by id)
sub whole_scan
{
	my ($n) = @_;
	return ($n->{'Node Type'} =~ /Seq Scan/ && ($n->{'Relation Name'} // '') =~ /^(watch|status_history)$/)
	  || (($n->{'Index Name'} // '') eq 'watch_due');
}

# per_item_scans(PLAN): nested loops whose inner side reads all of watch, one per outer row
sub per_item_scans
{
	my ($plan) = @_;
	return grep {
		$_->{'Node Type'} eq 'Nested Loop'
		  && grep { whole_scan($_) } nodes(($_->{Plans} // [])->[1] // {})
	} nodes($plan->{Plan});
}

my $done = 0;

# enrol(COUNT, WHAT[, LARGE]): enrol COUNT items, wait until all are done, check the worker's
# plans; LARGE: the table is large now, reading all of it even once per row is wrong.
sub enrol
{
	my ($count, $what, $large) = @_;
	my $offset = log_offset($node);
	seed_and_watch($node, $count);
	$done += $count;
	wait_query($node, "$done items done", 120,
		qq{SELECT count(*) = $done FROM signicat.watch WHERE state = 'done'});
	my ($claims, $results, $checks) = worker_plans($offset);
	note "$what: " . scalar(@$claims) . ' claims, ' . scalar(@$results) . ' result updates, '
	  . scalar(@$checks) . ' foreign key checks';
	cmp_ok(scalar(@$results), '>=', 2 * $count, "$what: the result updates were logged");

	my @looped = grep { per_item_scans($_) } @$claims, @$results;
	is(scalar(@looped), 0, "$what: no plan reads all of watch once per item")
	  or diag(enc_json($looped[0]->{Plan}));
	my @on_due = grep {
		grep { ($_->{'Index Name'} // '') eq 'watch_due' } nodes($_->{Plan})
	} @$results;
	is(scalar(@on_due), 0, "$what: no result update uses the watch_due index")
	  or diag(enc_json($on_due[0]->{Plan}));
	return unless $large;

	# Statements run once per item (or per history row) may read a table of a few pages whole,
	# that is what the planner should do; by the end of a large batch the tables are not small.
	my @late = @{$results}[-200 .. -1];
	my @scanning = grep { grep { whole_scan($_) } nodes($_->{Plan}) } @late;
	is(scalar(@scanning), 0, "$what: none of the last 200 result updates (one per item) reads a whole table")
	  or diag(enc_json($scanning[0]->{Plan}));
	cmp_ok(scalar(@$checks), '>=', 200, "$what: the foreign key checks were logged");
	@late = @{$checks}[-200 .. -1];
	@scanning = grep { grep { whole_scan($_) } nodes($_->{Plan}) } @late;
	is(scalar(@scanning), 0,
		"$what: none of the last 200 foreign key checks (one per history row) reads all of watch")
	  or diag(enc_json($scanning[0]->{Plan}));
}

# 1. plans made for a one-page table (analyzed as such), then 2,000 more items without VACUUM
#    or ANALYZE in between
enrol(5, 'first items');
query($node, 'VACUUM ANALYZE signicat.watch, signicat.status_history');
enrol(5, 'on a one-page table');
enrol(2000, 'after growth', 1);

# 2. statistics of a table whose items are all done: watch_due looks empty
query($node, 'VACUUM ANALYZE signicat.watch, signicat.status_history');
is(query($node, q{SELECT reltuples FROM pg_class WHERE oid = 'signicat.watch_due'::regclass}),
	'0', 'watch_due is empty as far as the planner knows');
enrol(1000, 'after VACUUM ANALYZE of an all-done table', 1);

check_no_crash($node, 0);
done_testing();
