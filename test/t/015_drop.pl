# 015_drop.pl: dropping a database or the extension while a worker runs.
#
#   - DROP DATABASE of a database whose worker runs succeeds from another database (the worker is
#     stopped first; before, it failed with "being accessed by other users");
#   - a DROP DATABASE that fails for another reason (a session is connected) leaves the worker
#     running; WITH (FORCE) then succeeds;
#   - DROP EXTENSION stops that database's worker once it commits; a rolled-back one does not;
#   - a worker of signicat.worker_databases whose database is gone at server start fails once,
#     says so in one line, and stays away (before, it failed every second until the next restart).

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
my $node = new_node('drop', "signicat.worker_databases = 'postgres, doomed'\n");
# (doomed did not exist when the server started: its worker stayed away; now it does)
query($node, 'CREATE DATABASE doomed');
$node->restart;

my $worker_of = sub { worker_of($node, $_[0]) };
my $with_worker = sub {
	my ($db) = @_;
	query($node, "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION signicat');
	$node->safe_psql($db, 'SELECT signicat.start_worker()');
	return wait_until("a worker runs for $db", 30, sub { $worker_of->($db) });
};

# DROP DATABASE with its worker running, from another database
ok($with_worker->('app'), 'a worker runs for database app');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE app');
is($rc, 0, 'DROP DATABASE app succeeds while its worker runs') or diag($err);
like($err, qr/stopped the signicat worker of database "app"/, '... and says that it stopped the worker');
is($worker_of->('app'), undef, 'no worker for app any more');

# a DROP DATABASE that fails for another reason: the worker runs on
ok($with_worker->('busy'), 'a worker runs for database busy');
my $session = $node->background_psql('busy');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE busy');
isnt($rc, 0, 'DROP DATABASE busy fails while a session is connected');
like($err, qr/being accessed by other users/, '... because of that session');
ok(wait_until('the worker of busy runs again', 30, sub { $worker_of->('busy') }),
	'the worker of busy was started again');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE busy WITH (FORCE)');
is($rc, 0, 'DROP DATABASE busy WITH (FORCE) succeeds') or diag($err);
eval { $session->quit };

# DROP EXTENSION: rolled back, the worker stays; committed, it stops
ok($with_worker->('ext'), 'a worker runs for database ext');
$node->safe_psql('ext', 'BEGIN; DROP EXTENSION signicat; ROLLBACK;');
my $log1 = log_offset($node);
$node->safe_psql('ext', 'SELECT signicat.watch_add(\'auth_session\', gen_random_uuid())');
ok($worker_of->('ext'), 'after a rolled-back DROP EXTENSION the worker runs on');
$node->safe_psql('ext', 'DROP EXTENSION signicat');
ok(wait_until('the worker of ext stops', 30, sub { !defined $worker_of->('ext') }),
	'after DROP EXTENSION the worker of that database stops');
like(log_after($node, $log1), qr/signicat worker for database "ext" stopped: the extension was dropped/,
	'... and says why');

# a database of signicat.worker_databases dropped, then the server restarts
ok(wait_until('the static worker runs for doomed', 30, sub { $worker_of->('doomed') }),
	'the worker of signicat.worker_databases runs for doomed');
query($node, 'DROP DATABASE doomed');
my $log2 = log_offset($node);
$node->restart;
ok(wait_for_log_after($node, $log2, qr/signicat worker for database "doomed" not started: its last attempt to connect failed/, 30),
	'at restart, the worker for the dropped database fails once, then says it stays away');
# (a worker that kept trying would add a FATAL line a second: none may follow that LOG line)
wait_until('the postgres worker runs', 30, sub { $worker_of->('postgres') });
sleep 3;
my @fatal = log_after($node, $log2) =~ /FATAL:  database "doomed" does not exist/g;
is(scalar @fatal, 1, 'exactly one failed attempt to connect');
ok($worker_of->('postgres'), 'the other worker runs');

done_testing();
