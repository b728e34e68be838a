"""Per-language extraction (the .scm queries) and cross-file resolution (resolve_generic).

The expected sets below were checked by hand against the fixture sources in
fixtures/polyglot/ (see its EXPECTED.md); each test fails if a query or a rule regresses.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repo_rlm.index import resolve_generic, store
from repo_rlm.index.languages import language_for, query_for
from repo_rlm.index.parse import module_name, parse_file

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "polyglot"
LANGS = ["javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp", "csharp", "ruby", "php", "kotlin"]


def facts_of(rel: str):
    lang = language_for(rel)
    return parse_file(rel, lang, module_name(rel, lang, {"services/gateway/go.mod"}), (FIXTURE / rel).read_bytes())


# path -> (definitions (qualname, kind), calls (caller, callee name), imports (module, name, alias),
#          bases (class, base as written))
FACTS = {
    "c/src/hash.c": (
        [('c.src.hash.hash_str', 'function'), ('c.src.hash.mix', 'function'), ('c.src.hash.table_put', 'function')],
        [('c.src.hash.hash_str', 'mix'), ('c.src.hash.table_put', 'hash_str')],
        [('hash.h', '', '')],
        [],
    ),
    "c/src/hash.h": (
        [('c.src.hash.HASH_SEED', 'constant'), ('c.src.hash.hash_str', 'function'), ('c.src.hash.table', 'struct'), ('c.src.hash.table_put', 'function'), ('c.src.hash.table_t', 'type')],
        [],
        [],
        [],
    ),
    "c/src/main.c": (
        [('c.src.main.main', 'function')],
        [('c.src.main.main', 'hash_str'), ('c.src.main.main', 'printf')],
        [('hash.h', '', ''), ('stdio.h', '', '')],
        [],
    ),
    "cpp/main.cpp": (
        [('cpp.main.Report', 'struct'), ('cpp.main.Report.print', 'method'), ('cpp.main.main', 'function')],
        [('cpp.main.main', 'Circle'), ('cpp.main.main', 'print'), ('cpp.main.main', 'total_area')],
        [('iostream', '', ''), ('shapes.hpp', '', '')],
        [],
    ),
    "cpp/shapes.cpp": (
        [('cpp.shapes.geo', 'namespace'), ('cpp.shapes.geo.Circle.Circle', 'method'), ('cpp.shapes.geo.Circle.area', 'method'), ('cpp.shapes.geo.square', 'function'), ('cpp.shapes.geo.total_area', 'function')],
        [('cpp.shapes.geo.Circle.area', 'square'), ('cpp.shapes.geo.total_area', 'area')],
        [('shapes.hpp', '', '')],
        [],
    ),
    "cpp/shapes.hpp": (
        [('cpp.shapes.geo', 'namespace'), ('cpp.shapes.geo.Circle', 'class'), ('cpp.shapes.geo.Circle.Circle', 'method'), ('cpp.shapes.geo.Circle.area', 'method'), ('cpp.shapes.geo.Shape', 'class'), ('cpp.shapes.geo.Shape.area', 'method'), ('cpp.shapes.geo.total_area', 'function')],
        [],
        [],
        [('cpp.shapes.geo.Circle', 'Shape')],
    ),
    "csharp/Billing/Invoice.cs": (
        [('Acme.Billing.Invoice', 'class'), ('Acme.Billing.Invoice.Add', 'method'), ('Acme.Billing.Invoice.Sum', 'method'), ('Acme.Billing.Invoice.Total', 'method')],
        [('Acme.Billing.Invoice', 'List'), ('Acme.Billing.Invoice.Add', 'Add'), ('Acme.Billing.Invoice.Add', 'Require'), ('Acme.Billing.Invoice.Sum', 'Sum'), ('Acme.Billing.Invoice.Total', 'Sum')],
        [('Acme.Billing.Core', '', ''), ('System.Collections.Generic', '', ''), ('System.Linq', '', '')],
        [('Acme.Billing.Invoice', 'Document'), ('Acme.Billing.Invoice', 'IPayable')],
    ),
    "csharp/Billing/InvoiceService.cs": (
        [('Acme.Billing.Currency', 'enum'), ('Acme.Billing.InvoiceService', 'class'), ('Acme.Billing.InvoiceService.Charge', 'method'), ('Acme.Billing.InvoiceService.InvoiceService', 'method'), ('Acme.Billing.Receipt', 'class')],
        [('Acme.Billing.InvoiceService.Charge', 'Add'), ('Acme.Billing.InvoiceService.Charge', 'Invoice'), ('Acme.Billing.InvoiceService.Charge', 'Receipt'), ('Acme.Billing.InvoiceService.Charge', 'Total')],
        [('Acme.Billing.Core', '', '')],
        [],
    ),
    "csharp/Core/Guard.cs": (
        [('Acme.Billing.Core.Document', 'class'), ('Acme.Billing.Core.Document.Number', 'variable'), ('Acme.Billing.Core.Guard', 'class'), ('Acme.Billing.Core.Guard.Require', 'method'), ('Acme.Billing.Core.IPayable', 'interface'), ('Acme.Billing.Core.IPayable.Total', 'method')],
        [('Acme.Billing.Core.Guard.Require', 'ArgumentException')],
        [],
        [],
    ),
    "java/src/main/java/com/acme/auth/AuthGuard.java": (
        [('com.acme.auth.AuthGuard', 'class'), ('com.acme.auth.AuthGuard.check', 'method'), ('com.acme.auth.AuthGuard.create', 'method'), ('com.acme.auth.AuthGuard.isValid', 'method')],
        [('com.acme.auth.AuthGuard.check', 'SecurityException'), ('com.acme.auth.AuthGuard.check', 'isValid'), ('com.acme.auth.AuthGuard.create', 'AuthGuard'), ('com.acme.auth.AuthGuard.isValid', 'startsWith')],
        [],
        [],
    ),
    "java/src/main/java/com/acme/users/BaseService.java": (
        [('com.acme.users.BaseService', 'class'), ('com.acme.users.BaseService.audit', 'method'), ('com.acme.users.Lookup', 'interface'), ('com.acme.users.Lookup.find', 'method'), ('com.acme.users.Role', 'enum'), ('com.acme.users.User', 'class')],
        [('com.acme.users.BaseService.audit', 'println')],
        [],
        [],
    ),
    "java/src/main/java/com/acme/users/UserRepository.java": (
        [('com.acme.users.UserRepository', 'class'), ('com.acme.users.UserRepository.findById', 'method')],
        [('com.acme.users.UserRepository', 'HashMap'), ('com.acme.users.UserRepository.findById', 'get'), ('com.acme.users.UserRepository.findById', 'ofNullable')],
        [('java.util', 'HashMap', ''), ('java.util', 'Map', ''), ('java.util', 'Optional', '')],
        [],
    ),
    "java/src/main/java/com/acme/users/UserService.java": (
        [('com.acme.users.UserService', 'class'), ('com.acme.users.UserService.UserService', 'method'), ('com.acme.users.UserService.find', 'method'), ('com.acme.users.UserService.withDefaults', 'method')],
        [('com.acme.users.UserService', 'UserRepository'), ('com.acme.users.UserService.find', 'audit'), ('com.acme.users.UserService.find', 'check'), ('com.acme.users.UserService.find', 'findById'), ('com.acme.users.UserService.withDefaults', 'UserService'), ('com.acme.users.UserService.withDefaults', 'create')],
        [('com.acme.auth', 'AuthGuard', ''), ('java.util', 'Optional', '')],
        [('com.acme.users.UserService', 'BaseService'), ('com.acme.users.UserService', 'Lookup')],
    ),
    "kotlin/src/main/kotlin/com/acme/notify/Notifier.kt": (
        [('com.acme.notify.BaseNotifier', 'class'), ('com.acme.notify.BaseNotifier.name', 'method'), ('com.acme.notify.Notifier', 'class'), ('com.acme.notify.Notifier.default', 'method'), ('com.acme.notify.Notifier.notify', 'method'), ('com.acme.notify.Notifier.render', 'method'), ('com.acme.notify.main', 'function')],
        [('com.acme.notify.Notifier.default', 'Email'), ('com.acme.notify.Notifier.default', 'Notifier'), ('com.acme.notify.Notifier.notify', 'render'), ('com.acme.notify.Notifier.notify', 'send'), ('com.acme.notify.Notifier.render', 'name'), ('com.acme.notify.main', 'default'), ('com.acme.notify.main', 'notify')],
        [('com.acme.notify.channels.Channel', 'Channel', ''), ('com.acme.notify.channels.EmailChannel', 'EmailChannel', 'Email')],
        [('com.acme.notify.Notifier', 'BaseNotifier')],
    ),
    "kotlin/src/main/kotlin/com/acme/notify/channels/Channels.kt": (
        [('com.acme.notify.channels.Channel', 'interface'), ('com.acme.notify.channels.Channel.send', 'method'), ('com.acme.notify.channels.EmailChannel', 'class'), ('com.acme.notify.channels.EmailChannel.send', 'method'), ('com.acme.notify.channels.Formatting', 'object'), ('com.acme.notify.channels.Formatting.banner', 'method'), ('com.acme.notify.channels.MAX_RETRIES', 'constant'), ('com.acme.notify.channels.format', 'function')],
        [('com.acme.notify.channels.EmailChannel.send', 'format'), ('com.acme.notify.channels.EmailChannel.send', 'println'), ('com.acme.notify.channels.format', 'banner')],
        [],
        [('com.acme.notify.channels.EmailChannel', 'Channel')],
    ),
    "php/src/Auth/Gate.php": (
        [('Acme.Auth.Gate', 'class'), ('Acme.Auth.Gate.HEADER', 'constant'), ('Acme.Auth.Gate.check', 'method'), ('Acme.Auth.Gate.valid', 'method'), ('Acme.Auth.Handler', 'interface'), ('Acme.Auth.Handler.handle', 'method'), ('Acme.Auth.Logs', 'trait'), ('Acme.Auth.Logs.log', 'method')],
        [('Acme.Auth.Gate.check', 'valid'), ('Acme.Auth.Gate.valid', 'str_starts_with'), ('Acme.Auth.Logs.log', 'error_log')],
        [],
        [],
    ),
    "php/src/Controller/UserController.php": (
        [('Acme.Controller.BaseController', 'class'), ('Acme.Controller.UserController', 'class'), ('Acme.Controller.UserController.authorize', 'method'), ('Acme.Controller.UserController.handle', 'method'), ('Acme.Controller.UserRepository', 'class'), ('Acme.Controller.UserRepository.find', 'method'), ('Acme.Controller.make_controller', 'function')],
        [('Acme.Controller.UserController.authorize', 'check'), ('Acme.Controller.UserController.authorize', 'log'), ('Acme.Controller.UserController.handle', 'UserRepository'), ('Acme.Controller.UserController.handle', 'authorize'), ('Acme.Controller.UserController.handle', 'find'), ('Acme.Controller.make_controller', 'UserController')],
        [('Acme\\Auth', 'Gate', ''), ('Acme\\Auth', 'Handler', 'RequestHandler')],
        [('Acme.Controller.BaseController', '\\Acme\\Auth\\Logs'), ('Acme.Controller.UserController', 'BaseController'), ('Acme.Controller.UserController', 'RequestHandler')],
    ),
    "ruby/lib/formatter.rb": (
        [('ruby.lib.formatter.Acme', 'module'), ('ruby.lib.formatter.Acme.BaseGreeter', 'class'), ('ruby.lib.formatter.Acme.BaseGreeter.prefix', 'method'), ('ruby.lib.formatter.Acme.Formatter', 'class'), ('ruby.lib.formatter.Acme.Formatter.shout', 'method')],
        [('ruby.lib.formatter.Acme.Formatter.shout', 'upcase')],
        [],
        [],
    ),
    "ruby/lib/greeter.rb": (
        [('ruby.lib.greeter.Acme', 'module'), ('ruby.lib.greeter.Acme.Greeter', 'class'), ('ruby.lib.greeter.Acme.Greeter.DEFAULT_NAME', 'constant'), ('ruby.lib.greeter.Acme.Greeter.build', 'method'), ('ruby.lib.greeter.Acme.Greeter.compose', 'method'), ('ruby.lib.greeter.Acme.Greeter.greet', 'method'), ('ruby.lib.greeter.Acme.Greeter.initialize', 'method')],
        [('ruby.lib.greeter', 'greet'), ('ruby.lib.greeter', 'new'), ('ruby.lib.greeter', 'puts'),
         ('ruby.lib.greeter.Acme.Greeter', 'private'),  # a bare call: no receiver, no arguments
         ('ruby.lib.greeter.Acme.Greeter.build', 'new'), ('ruby.lib.greeter.Acme.Greeter.greet', 'compose'), ('ruby.lib.greeter.Acme.Greeter.greet', 'shout')],
        [('formatter', '', ''), ('json', '', '')],
        [('ruby.lib.greeter.Acme.Greeter', 'BaseGreeter')],
    ),
    "rust/src/lib.rs": (
        [('rust.src.lib.MAX_USERS', 'constant'), ('rust.src.lib.Repo', 'trait'), ('rust.src.lib.Repo.get', 'method'), ('rust.src.lib.UserRepo', 'struct'), ('rust.src.lib.UserRepo.fetch', 'method'), ('rust.src.lib.UserRepo.fmt', 'method'), ('rust.src.lib.UserRepo.get', 'method'), ('rust.src.lib.UserRepo.lookup', 'method'), ('rust.src.lib.UserRepo.new', 'method'), ('rust.src.lib.default_repo', 'function')],
        [('rust.src.lib.UserRepo.fetch', 'lookup'), ('rust.src.lib.UserRepo.fmt', 'write'), ('rust.src.lib.UserRepo.get', 'lookup'), ('rust.src.lib.UserRepo.lookup', 'fetch'), ('rust.src.lib.UserRepo.lookup', 'format'), ('rust.src.lib.UserRepo.lookup', 'map'), ('rust.src.lib.UserRepo.new', 'new'), ('rust.src.lib.default_repo', 'lookup'), ('rust.src.lib.default_repo', 'new')],
        [('crate::store', 'MemoryStore', ''), ('crate::store', 'Store', ''), ('std', 'fmt', '')],
        # `impl Trait for Type` is a base of the type
        [('rust.src.lib.Repo', 'Store'), ('rust.src.lib.UserRepo', 'Repo'), ('rust.src.lib.UserRepo', 'Store'),
         ('rust.src.lib.UserRepo', 'fmt::Display')],
    ),
    "rust/src/store.rs": (
        [('rust.src.store.Backend', 'enum'), ('rust.src.store.MemoryStore', 'struct'), ('rust.src.store.MemoryStore.fetch', 'method'), ('rust.src.store.MemoryStore.new', 'method'), ('rust.src.store.Store', 'trait'), ('rust.src.store.Store.fetch', 'method')],
        [('rust.src.store.MemoryStore.fetch', 'cloned'), ('rust.src.store.MemoryStore.fetch', 'get'), ('rust.src.store.MemoryStore.new', 'new')],
        [('std::collections', 'HashMap', '')],
        [('rust.src.store.MemoryStore', 'Store')],
    ),
    "services/gateway/auth/check.go": (
        [('auth.Base', 'struct'), ('auth.CheckRequest', 'function'), ('auth.Checker', 'struct'), ('auth.Checker.Allow', 'method'), ('auth.validToken', 'function')],
        [('auth.CheckRequest', 'Get'), ('auth.CheckRequest', 'validToken'), ('auth.Checker.Allow', 'CheckRequest'), ('auth.validToken', 'HasPrefix')],
        [('net/http', '', ''), ('strings', '', '')],
        [('auth.Checker', 'Base')],
    ),
    "services/gateway/handlers/routes.go": (
        [('handlers.Routes', 'function')],
        [('handlers.Routes', 'Handle'), ('handlers.Routes', 'NewUserHandler'), ('handlers.Routes', 'writeJSON')],
        [('net/http', '', '')],
        [],
    ),
    "services/gateway/handlers/users.go": (
        [('handlers.NewUserHandler', 'function'), ('handlers.UserHandler', 'struct'), ('handlers.UserHandler.ServeHTTP', 'method'), ('handlers.UserHandler.writeJSON', 'method')],
        [('handlers.UserHandler.ServeHTTP', 'Allow'), ('handlers.UserHandler.ServeHTTP', 'CheckRequest'), ('handlers.UserHandler.ServeHTTP', 'Error'), ('handlers.UserHandler.ServeHTTP', 'writeJSON'), ('handlers.UserHandler.writeJSON', 'Encode'), ('handlers.UserHandler.writeJSON', 'NewEncoder')],
        [('encoding/json', '', ''), ('example.com/gateway/auth', '', 'authz'), ('net/http', '', '')],
        [],
    ),
    "services/gateway/main.go": (
        [('main.main', 'function')],
        [('main.main', 'ListenAndServe'), ('main.main', 'NewServeMux'), ('main.main', 'Routes')],
        [('example.com/gateway/handlers', '', ''), ('net/http', '', '')],
        [],
    ),
    "src/api/client.ts": (
        [('src.api.client.submitLogin', 'function')],
        [('src.api.client.submitLogin', 'fetch')],
        [],
        [],
    ),
    "src/app.ts": (
        [('src.app.buildRoutes', 'function')],
        [('src.app.buildRoutes', 'SessionService'), ('src.app.buildRoutes', 'post'), ('src.app.buildRoutes', 'refresh'), ('src.app.buildRoutes', 'startSession'), ('src.app.buildRoutes', 'use')],
        [('./auth', 'requireAuth', ''), ('./services/session', '', 'SessionService'), ('./services/session', 'startSession', '')],
        [],
    ),
    "src/auth/index.ts": (
        [],
        [],
        [('./middleware', 'AdminGate', ''), ('./middleware', 'requireAuth', '')],
        [],
    ),
    "src/auth/middleware.ts": (
        [('src.auth.middleware.AdminGate', 'class'), ('src.auth.middleware.AdminGate.allowed', 'method'), ('src.auth.middleware.AdminGate.check', 'method'), ('src.auth.middleware.BaseGate', 'class'), ('src.auth.middleware.requireAuth', 'function')],
        [('src.auth.middleware.AdminGate.check', 'allowed'), ('src.auth.middleware.AdminGate.check', 'verifyToken'), ('src.auth.middleware.requireAuth', 'end'), ('src.auth.middleware.requireAuth', 'next'), ('src.auth.middleware.requireAuth', 'status'), ('src.auth.middleware.requireAuth', 'verifyToken'), ('src.auth.middleware.requireAuth', 'warn')],
        [('../util/log', '*', 'log'), ('./tokens', 'verifyToken', ''), ('express', 'NextFunction', ''), ('express', 'Request', ''), ('express', 'Response', '')],
        [('src.auth.middleware.AdminGate', 'BaseGate')],
    ),
    "src/auth/tokens.ts": (
        [('src.auth.tokens.Claims', 'interface'), ('src.auth.tokens.TOKEN_TTL', 'constant'), ('src.auth.tokens.decode', 'function'), ('src.auth.tokens.verifyToken', 'function')],
        [('src.auth.tokens.decode', 'atob'), ('src.auth.tokens.decode', 'parse'), ('src.auth.tokens.verifyToken', 'decode'), ('src.auth.tokens.verifyToken', 'now')],
        [],
        [],
    ),
    "src/components/LoginForm.tsx": (
        [('src.components.LoginForm.LoginForm', 'function'), ('src.components.LoginForm.LoginForm.onSubmit', 'function'), ('src.components.LoginForm.LoginPage', 'class'), ('src.components.LoginForm.LoginPage.render', 'method'), ('src.components.LoginForm.Props', 'type')],
        [('src.components.LoginForm.LoginForm', 'setUser'), ('src.components.LoginForm.LoginForm', 'useState'), ('src.components.LoginForm.LoginForm.onSubmit', 'submitLogin'), ('src.components.LoginForm.LoginPage.render', 'LoginForm')],
        [('../api/client', 'submitLogin', ''), ('react', '', 'React'), ('react', 'useState', '')],
        [('src.components.LoginForm.LoginPage', 'React.Component')],
    ),
    "src/legacy/broken.js": (
        [('src.legacy.broken.helperBelow', 'function'), ('src.legacy.broken.stillHere', 'function')],
        [('src.legacy.broken.stillHere', 'helperBelow')],
        [],
        [],
    ),
    "src/services/session.ts": (
        [('src.services.session.SessionService', 'class'), ('src.services.session.SessionService.extend', 'method'), ('src.services.session.SessionService.refresh', 'method'), ('src.services.session.startSession', 'function')],
        [('src.services.session.SessionService.refresh', 'extend'), ('src.services.session.SessionService.refresh', 'verifyToken'), ('src.services.session.startSession', 'SessionService'), ('src.services.session.startSession', 'refresh')],
        [('../auth/tokens', 'verifyToken', '')],
        [],
    ),
    "src/util/format.js": (
        [('src.util.format.format', 'function')],
        [],
        [],
        [],
    ),
    "src/util/log.js": (
        [('src.util.log.Logger', 'class'), ('src.util.log.Logger.constructor', 'method'), ('src.util.log.Logger.info', 'method'), ('src.util.log.makeLogger', 'function'), ('src.util.log.warn', 'function')],
        [('src.util.log', 'require'), ('src.util.log.Logger.info', 'format'), ('src.util.log.makeLogger', 'Logger'), ('src.util.log.warn', 'format'), ('src.util.log.warn', 'warn')],
        [('./format', 'format', '')],
        [],
    ),
}


@pytest.mark.parametrize("lang", LANGS)
def test_query_compiles(lang):
    assert query_for(lang).pattern_count > 0


def test_fixture_covers_every_language():
    langs = {language_for(p.relative_to(FIXTURE).as_posix()) for p in FIXTURE.rglob("*") if p.is_file()}
    assert set(LANGS) | {"text"} <= langs


@pytest.mark.parametrize("rel", sorted(FACTS))
def test_facts(rel):
    f = facts_of(rel)
    defs, calls, imports, bases = FACTS[rel]
    assert sorted({(d[1], d[2]) for d in f.defs}) == defs
    assert sorted({(f.defs[c[0]][1] if c[0] >= 0 else f.module, c[2]) for c in f.calls}) == calls
    assert sorted({(i[1], i[2], i[3]) for i in f.imports}) == imports
    assert sorted({(f.defs[b[0]][1], b[1]) for b in f.bases}) == bases


@pytest.mark.parametrize("rel, package", [
    ("services/gateway/handlers/users.go", "handlers"),
    ("java/src/main/java/com/acme/users/UserService.java", "com.acme.users"),
    ("kotlin/src/main/kotlin/com/acme/notify/Notifier.kt", "com.acme.notify"),
    ("csharp/Billing/Invoice.cs", "Acme.Billing"),           # file-scoped namespace
    ("csharp/Billing/InvoiceService.cs", "Acme.Billing"),    # block namespace
    ("php/src/Auth/Gate.php", "Acme.Auth"),
    ("src/auth/middleware.ts", ""),
])
def test_package(rel, package):
    assert facts_of(rel).package == package


def test_broken_file_keeps_recoverable_definitions():
    f = facts_of("src/legacy/broken.js")
    assert f.parse_error
    assert {d[1] for d in f.defs} == {"src.legacy.broken.stillHere", "src.legacy.broken.helperBelow"}


def test_calls_keep_receiver_text_and_constructor_flag():
    f = facts_of("java/src/main/java/com/acme/users/UserService.java")
    texts = {(c[1], c[2], c[6]) for c in f.calls}
    assert ("AuthGuard.create", "create", False) in texts
    assert ("repository.findById", "findById", False) in texts
    assert ("UserRepository", "UserRepository", True) in texts
    php = {(c[1], c[2]) for c in facts_of("php/src/Controller/UserController.php").calls}
    assert ("$this->authorize", "authorize") in php and ("Gate::check", "check") in php


def test_binds_type_receivers():
    ts = {b[1:4] for b in facts_of("src/app.ts").binds}
    assert ("sessions", "type", "SessionService") in ts and ("sessions", "new", "SessionService") in ts
    go = {b[1:4] for b in facts_of("services/gateway/handlers/routes.go").binds}
    assert ("h", "call", "NewUserHandler") in go
    java = {b[1:4] for b in facts_of("java/src/main/java/com/acme/users/UserService.java").binds}
    assert ("guard", "self_type", "AuthGuard") in java


# -- resolution through the real indexer -------------------------------------------------------

# Every call the rules tie to a definition: (path, caller, callee as written, target).
RESOLVED = {
    ('c/src/hash.c', 'c.src.hash.hash_str', 'mix', 'c.src.hash.mix'),
    ('c/src/hash.c', 'c.src.hash.table_put', 'hash_str', 'c.src.hash.hash_str'),
    ('c/src/main.c', 'c.src.main.main', 'hash_str', 'c.src.hash.hash_str'),
    ('cpp/main.cpp', 'cpp.main.main', 'geo::Circle', 'cpp.shapes.geo.Circle.Circle'),
    ('cpp/main.cpp', 'cpp.main.main', 'geo::total_area', 'cpp.shapes.geo.total_area'),
    ('cpp/main.cpp', 'cpp.main.main', 'report.print', 'cpp.main.Report.print'),
    ('cpp/shapes.cpp', 'cpp.shapes.geo.Circle.area', 'square', 'cpp.shapes.geo.square'),
    ('cpp/shapes.cpp', 'cpp.shapes.geo.total_area', 'a.area', 'cpp.shapes.geo.Shape.area'),
    ('cpp/shapes.cpp', 'cpp.shapes.geo.total_area', 'b.area', 'cpp.shapes.geo.Shape.area'),
    ('csharp/Billing/Invoice.cs', 'Acme.Billing.Invoice.Add', 'Guard.Require', 'Acme.Billing.Core.Guard.Require'),
    ('csharp/Billing/Invoice.cs', 'Acme.Billing.Invoice.Total', 'Sum', 'Acme.Billing.Invoice.Sum'),
    ('csharp/Billing/InvoiceService.cs', 'Acme.Billing.InvoiceService.Charge', 'Invoice', 'Acme.Billing.Invoice'),
    ('csharp/Billing/InvoiceService.cs', 'Acme.Billing.InvoiceService.Charge', 'Receipt', 'Acme.Billing.Receipt'),
    ('csharp/Billing/InvoiceService.cs', 'Acme.Billing.InvoiceService.Charge', 'invoice.Add', 'Acme.Billing.Invoice.Add'),
    ('csharp/Billing/InvoiceService.cs', 'Acme.Billing.InvoiceService.Charge', 'invoice.Total', 'Acme.Billing.Invoice.Total'),
    ('java/src/main/java/com/acme/auth/AuthGuard.java', 'com.acme.auth.AuthGuard.check', 'isValid', 'com.acme.auth.AuthGuard.isValid'),
    ('java/src/main/java/com/acme/auth/AuthGuard.java', 'com.acme.auth.AuthGuard.create', 'AuthGuard', 'com.acme.auth.AuthGuard'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService', 'UserRepository', 'com.acme.users.UserRepository'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService.find', 'audit', 'com.acme.users.BaseService.audit'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService.find', 'guard.check', 'com.acme.auth.AuthGuard.check'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService.find', 'repository.findById', 'com.acme.users.UserRepository.findById'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService.withDefaults', 'AuthGuard.create', 'com.acme.auth.AuthGuard.create'),
    ('java/src/main/java/com/acme/users/UserService.java', 'com.acme.users.UserService.withDefaults', 'UserService', 'com.acme.users.UserService.UserService'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.Notifier.default', 'Email', 'com.acme.notify.channels.EmailChannel'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.Notifier.default', 'Notifier', 'com.acme.notify.Notifier'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.Notifier.notify', 'channel.send', 'com.acme.notify.channels.Channel.send'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.Notifier.notify', 'render', 'com.acme.notify.Notifier.render'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.Notifier.render', 'name', 'com.acme.notify.BaseNotifier.name'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.main', 'Notifier.default', 'com.acme.notify.Notifier.default'),
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'com.acme.notify.main', 'notifier.notify', 'com.acme.notify.Notifier.notify'),
    ('kotlin/src/main/kotlin/com/acme/notify/channels/Channels.kt', 'com.acme.notify.channels.EmailChannel.send', 'format', 'com.acme.notify.channels.format'),
    ('kotlin/src/main/kotlin/com/acme/notify/channels/Channels.kt', 'com.acme.notify.channels.format', 'Formatting.banner', 'com.acme.notify.channels.Formatting.banner'),
    ('php/src/Auth/Gate.php', 'Acme.Auth.Gate.check', 'self::valid', 'Acme.Auth.Gate.valid'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.UserController.authorize', '$this->log', 'Acme.Auth.Logs.log'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.UserController.authorize', 'Gate::check', 'Acme.Auth.Gate.check'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.UserController.handle', '$repo->find', 'Acme.Controller.UserRepository.find'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.UserController.handle', '$this->authorize', 'Acme.Controller.UserController.authorize'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.UserController.handle', 'UserRepository', 'Acme.Controller.UserRepository'),
    ('php/src/Controller/UserController.php', 'Acme.Controller.make_controller', 'UserController', 'Acme.Controller.UserController'),
    ('ruby/lib/greeter.rb', 'ruby.lib.greeter', 'Acme::Greeter.new', 'ruby.lib.greeter.Acme.Greeter.initialize'),
    ('ruby/lib/greeter.rb', 'ruby.lib.greeter', 'greeter.greet', 'ruby.lib.greeter.Acme.Greeter.greet'),
    ('ruby/lib/greeter.rb', 'ruby.lib.greeter.Acme.Greeter.build', 'new', 'ruby.lib.greeter.Acme.Greeter.initialize'),
    ('ruby/lib/greeter.rb', 'ruby.lib.greeter.Acme.Greeter.greet', 'Formatter.shout', 'ruby.lib.formatter.Acme.Formatter.shout'),
    ('ruby/lib/greeter.rb', 'ruby.lib.greeter.Acme.Greeter.greet', 'compose', 'ruby.lib.greeter.Acme.Greeter.compose'),
    ('rust/src/lib.rs', 'rust.src.lib.UserRepo.fetch', 'self.lookup', 'rust.src.lib.UserRepo.lookup'),
    ('rust/src/lib.rs', 'rust.src.lib.UserRepo.get', 'self.lookup', 'rust.src.lib.UserRepo.lookup'),
    ('rust/src/lib.rs', 'rust.src.lib.UserRepo.lookup', 'self.store.fetch', 'rust.src.store.MemoryStore.fetch'),
    ('rust/src/lib.rs', 'rust.src.lib.UserRepo.new', 'MemoryStore::new', 'rust.src.store.MemoryStore.new'),
    ('rust/src/lib.rs', 'rust.src.lib.default_repo', 'UserRepo::new', 'rust.src.lib.UserRepo.new'),
    ('rust/src/lib.rs', 'rust.src.lib.default_repo', 'repo.lookup', 'rust.src.lib.UserRepo.lookup'),
    ('services/gateway/auth/check.go', 'auth.CheckRequest', 'validToken', 'auth.validToken'),
    ('services/gateway/auth/check.go', 'auth.Checker.Allow', 'CheckRequest', 'auth.CheckRequest'),
    ('services/gateway/handlers/routes.go', 'handlers.Routes', 'NewUserHandler', 'handlers.NewUserHandler'),
    ('services/gateway/handlers/routes.go', 'handlers.Routes', 'h.writeJSON', 'handlers.UserHandler.writeJSON'),
    ('services/gateway/handlers/users.go', 'handlers.UserHandler.ServeHTTP', 'authz.CheckRequest', 'auth.CheckRequest'),
    ('services/gateway/handlers/users.go', 'handlers.UserHandler.ServeHTTP', 'h.checker.Allow', 'auth.Checker.Allow'),
    ('services/gateway/handlers/users.go', 'handlers.UserHandler.ServeHTTP', 'h.writeJSON', 'handlers.UserHandler.writeJSON'),
    ('services/gateway/main.go', 'main.main', 'handlers.Routes', 'handlers.Routes'),
    ('src/app.ts', 'src.app.buildRoutes', 'SessionService', 'src.services.session.SessionService'),
    ('src/app.ts', 'src.app.buildRoutes', 'sessions.refresh', 'src.services.session.SessionService.refresh'),
    ('src/app.ts', 'src.app.buildRoutes', 'startSession', 'src.services.session.startSession'),
    ('src/auth/middleware.ts', 'src.auth.middleware.AdminGate.check', 'this.allowed', 'src.auth.middleware.AdminGate.allowed'),
    ('src/auth/middleware.ts', 'src.auth.middleware.AdminGate.check', 'verifyToken', 'src.auth.tokens.verifyToken'),
    ('src/auth/middleware.ts', 'src.auth.middleware.requireAuth', 'log.warn', 'src.util.log.warn'),
    ('src/auth/middleware.ts', 'src.auth.middleware.requireAuth', 'verifyToken', 'src.auth.tokens.verifyToken'),
    ('src/auth/tokens.ts', 'src.auth.tokens.verifyToken', 'decode', 'src.auth.tokens.decode'),
    ('src/components/LoginForm.tsx', 'src.components.LoginForm.LoginForm.onSubmit', 'submitLogin', 'src.api.client.submitLogin'),
    ('src/components/LoginForm.tsx', 'src.components.LoginForm.LoginPage.render', 'LoginForm', 'src.components.LoginForm.LoginForm'),
    ('src/legacy/broken.js', 'src.legacy.broken.stillHere', 'helperBelow', 'src.legacy.broken.helperBelow'),
    ('src/services/session.ts', 'src.services.session.SessionService.refresh', 'this.extend', 'src.services.session.SessionService.extend'),
    ('src/services/session.ts', 'src.services.session.SessionService.refresh', 'verifyToken', 'src.auth.tokens.verifyToken'),
    ('src/services/session.ts', 'src.services.session.startSession', 'SessionService', 'src.services.session.SessionService'),
    ('src/services/session.ts', 'src.services.session.startSession', 'service.refresh', 'src.services.session.SessionService.refresh'),
    ('src/util/log.js', 'src.util.log.Logger.info', 'format', 'src.util.format.format'),
    ('src/util/log.js', 'src.util.log.makeLogger', 'Logger', 'src.util.log.Logger.constructor'),
    ('src/util/log.js', 'src.util.log.warn', 'format', 'src.util.format.format'),
}

# Calls that stay unresolved, and how they are labelled.
UNRESOLVED = {
    ('c/src/main.c', 'printf', 'builtin', '<builtin>.printf'),
    ('csharp/Billing/Invoice.cs', 'List<decimal>', 'external', '<external>.List'),
    ('csharp/Billing/Invoice.cs', '_lines.Add', 'name', None),
    ('csharp/Billing/Invoice.cs', 'values.Sum', 'name', None),
    ('csharp/Core/Guard.cs', 'System.ArgumentException', 'external', '<external>.ArgumentException'),
    ('java/src/main/java/com/acme/auth/AuthGuard.java', 'SecurityException', 'external', '<external>.SecurityException'),
    ('java/src/main/java/com/acme/auth/AuthGuard.java', 'token.startsWith', 'external', '<external>.startsWith'),
    ('java/src/main/java/com/acme/users/BaseService.java', 'System.out.println', 'external', '<external>.println'),
    # a call through the interface Channel also reaches its implementation (a second row, `name`)
    ('kotlin/src/main/kotlin/com/acme/notify/Notifier.kt', 'channel.send', 'name', 'com.acme.notify.channels.EmailChannel.send'),
    ('java/src/main/java/com/acme/users/UserRepository.java', 'HashMap<>', 'external', '<external>.HashMap'),
    ('java/src/main/java/com/acme/users/UserRepository.java', 'Optional.ofNullable', 'external', '<external>.ofNullable'),
    ('java/src/main/java/com/acme/users/UserRepository.java', 'rows.get', 'name', None),
    ('kotlin/src/main/kotlin/com/acme/notify/channels/Channels.kt', 'println', 'external', '<external>.println'),
    ('php/src/Auth/Gate.php', 'error_log', 'builtin', '<builtin>.error_log'),
    ('php/src/Auth/Gate.php', 'str_starts_with', 'builtin', '<builtin>.str_starts_with'),
    ('ruby/lib/formatter.rb', 'text.upcase', 'external', '<external>.upcase'),
    ('ruby/lib/greeter.rb', 'puts', 'builtin', '<builtin>.puts'),
    ('ruby/lib/greeter.rb', 'private', 'builtin', '<builtin>.private'),
    ('rust/src/lib.rs', 'format', 'builtin', '<builtin>.format'),
    ('rust/src/lib.rs', 'self.store.fetch(id).map', 'external', '<external>.map'),
    ('rust/src/lib.rs', 'write', 'builtin', '<builtin>.write'),
    ('rust/src/store.rs', 'HashMap::new', 'name', None),
    ('rust/src/store.rs', 'self.rows.get', 'name', None),
    ('rust/src/store.rs', 'self.rows.get(&id).cloned', 'external', '<external>.cloned'),
    ('services/gateway/auth/check.go', 'r.Header.Get', 'external', '<external>.Get'),
    ('services/gateway/auth/check.go', 'strings.HasPrefix', 'external', '<external>.HasPrefix'),
    ('services/gateway/handlers/routes.go', 'mux.Handle', 'external', '<external>.Handle'),
    ('services/gateway/handlers/users.go', 'http.Error', 'external', '<external>.Error'),
    ('services/gateway/handlers/users.go', 'json.NewEncoder', 'external', '<external>.NewEncoder'),
    ('services/gateway/handlers/users.go', 'json.NewEncoder(w).Encode', 'external', '<external>.Encode'),
    ('services/gateway/main.go', 'http.ListenAndServe', 'external', '<external>.ListenAndServe'),
    ('services/gateway/main.go', 'http.NewServeMux', 'external', '<external>.NewServeMux'),
    ('src/api/client.ts', 'fetch', 'builtin', '<builtin>.fetch'),
    ('src/app.ts', 'app.post', 'external', '<external>.post'),
    ('src/app.ts', 'app.use', 'external', '<external>.use'),
    ('src/auth/middleware.ts', 'next', 'external', '<external>.next'),
    ('src/auth/middleware.ts', 'res.status', 'external', '<external>.status'),
    ('src/auth/middleware.ts', 'res.status(401).end', 'external', '<external>.end'),
    ('src/auth/tokens.ts', 'Date.now', 'builtin', '<builtin>.now'),
    ('src/auth/tokens.ts', 'JSON.parse', 'builtin', '<builtin>.parse'),
    ('src/auth/tokens.ts', 'atob', 'builtin', '<builtin>.atob'),
    ('src/components/LoginForm.tsx', 'setUser', 'external', '<external>.setUser'),
    ('src/components/LoginForm.tsx', 'useState', 'external', '<external>.useState'),
    ('src/util/log.js', 'console.warn', 'builtin', '<builtin>.warn'),
    ('src/util/log.js', 'require', 'builtin', '<builtin>.require'),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    from repo_rlm.query.repo import Repo

    tmp = tmp_path_factory.mktemp("poly")
    shutil.copytree(FIXTURE, tmp / "repo")
    return Repo.open(tmp / "repo", index_path=tmp / "i.db")


def test_resolved_edges_are_exact(repo):
    rows = repo.conn.execute(
        "SELECT f.path, c.caller, c.callee_text, c.target FROM calls c JOIN files f ON f.id = c.file_id "
        "WHERE c.resolution = 'resolved'").fetchall()
    assert set(rows) == RESOLVED


def test_unresolved_labels_are_exact(repo):
    rows = repo.conn.execute(
        "SELECT f.path, c.callee_text, c.resolution, c.target FROM calls c JOIN files f ON f.id = c.file_id "
        "WHERE c.resolution != 'resolved' AND f.lang != 'python'").fetchall()
    assert set(rows) == UNRESOLVED


def test_where_auth_is_checked(repo):
    ts = {(c.caller, c.path, c.resolution) for c in repo.callers_of("verifyToken")}
    assert ts == {
        ("src.auth.middleware.requireAuth", "src/auth/middleware.ts", "resolved"),
        ("src.auth.middleware.AdminGate.check", "src/auth/middleware.ts", "resolved"),
        ("src.services.session.SessionService.refresh", "src/services/session.ts", "resolved"),
    }
    go = {(c.caller, c.resolution) for c in repo.callers_of("auth.CheckRequest")}
    assert go == {("handlers.UserHandler.ServeHTTP", "resolved"), ("auth.Checker.Allow", "resolved")}
    java = {c.caller for c in repo.callers_of("com.acme.auth.AuthGuard.check")}
    assert java == {"com.acme.users.UserService.find"}


def test_import_and_base_targets(repo):
    imports = dict(((p, m, n), t) for p, m, n, t in repo.conn.execute(
        "SELECT f.path, i.module, i.name, i.target FROM imports i JOIN files f ON f.id = i.file_id"))
    assert imports[("src/app.ts", "./auth", "requireAuth")] == "src.auth.middleware.requireAuth"  # via index.ts
    assert imports[("src/auth/middleware.ts", "../util/log", "*")] == "src.util.log"
    assert imports[("services/gateway/main.go", "example.com/gateway/handlers", "")] == "handlers"  # by directory
    assert imports[("src/auth/middleware.ts", "express", "Request")] is None
    bases = dict(((q, b), t) for q, b, t in repo.conn.execute(
        "SELECT s.qualname, b.base, b.target FROM bases b JOIN symbols s ON s.id = b.symbol_id"))
    assert bases[("Acme.Controller.BaseController", "\\Acme\\Auth\\Logs")] == "Acme.Auth.Logs"
    assert bases[("ruby.lib.greeter.Acme.Greeter", "BaseGreeter")] == "ruby.lib.formatter.Acme.BaseGreeter"
    assert bases[("src.components.LoginForm.LoginPage", "React.Component")] is None


# -- resolve_files on a database built by hand (the indexer's columns, nothing else) -------------

def test_resolve_files_on_handmade_db(tmp_path):
    conn = store.connect(tmp_path / "i.db")
    store.init(conn)
    ins = conn.execute
    a = ins("INSERT INTO files(path, lang, module, package, blob, size, lines) VALUES('lib/a.ts', 'typescript', 'lib.a', '', 'x', 1, 9)").lastrowid
    b = ins("INSERT INTO files(path, lang, module, package, blob, size, lines) VALUES('lib/b.ts', 'typescript', 'lib.b', '', 'y', 1, 9)").lastrowid
    sym = "INSERT INTO symbols(file_id, parent_id, name, qualname, kind, start_line, end_line, name_line, name_col, signature, doc) VALUES(?,?,?,?,?,1,2,1,1,'','')"
    check = ins(sym, (a, None, "check", "lib.a.check", "function")).lastrowid
    svc = ins(sym, (a, None, "Svc", "lib.a.Svc", "class")).lastrowid
    ins(sym, (a, svc, "run", "lib.a.Svc.run", "method"))
    main = ins(sym, (b, None, "main", "lib.b.main", "function")).lastrowid
    ins(sym, (b, None, "other", "lib.b.other", "function"))
    ins("INSERT INTO imports(file_id, scope_id, module, name, alias, line, level) VALUES(?, NULL, './a', 'check', 'chk', 1, 0)", (b,))
    ins("INSERT INTO imports(file_id, scope_id, module, name, alias, line, level) VALUES(?, NULL, './a', 'Svc', '', 1, 0)", (b,))
    ins("INSERT INTO binds(file_id, scope_id, name, kind, value, line) VALUES(?, ?, 's', 'new', 'Svc', 3)", (b, main))
    call = "INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, is_new) VALUES(?,?,?,?,?,1,1,'',?)"
    for callee, name, new in [("chk", "chk", 0), ("Svc", "Svc", 1), ("s.run", "run", 0), ("x.check", "check", 0),
                              ("nowhere", "nowhere", 0), ("console.log", "log", 0)]:
        ins(call, (b, main, "lib.b.main", callee, name, new))
    ins(call, (a, check, "lib.a.check", "other", "other", 0))
    resolve_generic.resolve_files(conn, [a, b])
    got = {(c, r, t) for c, r, t in conn.execute("SELECT callee_text, resolution, target FROM calls")}
    assert got == {
        ("chk", "resolved", "lib.a.check"),
        ("Svc", "resolved", "lib.a.Svc"),
        ("s.run", "resolved", "lib.a.Svc.run"),
        ("x.check", "name", None),            # unknown receiver: only the name matches
        ("nowhere", "external", "<external>.nowhere"),
        ("console.log", "builtin", "<builtin>.log"),
        ("other", "name", None),              # defined in b.ts, which a.ts does not import
    }
    assert {t for (t,) in conn.execute("SELECT target FROM imports")} == {"lib.a.check", "lib.a.Svc"}


# -- lazy loading (a few files resolved) gives what a bulk load gives --------------------------

NON_PY = "f.lang NOT IN ('python', 'text', 'skipped')"


def _resolution(conn):
    """Every non-Python call's (target, resolution), import target and base target."""
    calls = set(conn.execute(f"SELECT c.id, c.target, c.resolution FROM calls c JOIN files f ON f.id = c.file_id WHERE {NON_PY}"))
    imports = set(conn.execute(f"SELECT i.id, i.target FROM imports i JOIN files f ON f.id = i.file_id WHERE {NON_PY}"))
    bases = set(conn.execute(f"SELECT b.symbol_id, b.base, b.target FROM bases b JOIN files f ON f.id = b.file_id WHERE {NON_PY}"))
    return calls, imports, bases


def _forget(conn, fids):
    for table, cols in (("calls", "target=NULL, resolution=NULL"), ("imports", "target=NULL"), ("bases", "target=NULL")):
        conn.executemany(f"UPDATE {table} SET {cols} WHERE file_id=?", [(f,) for f in fids])


class _Spy(resolve_generic.World):
    modes: list[bool] = []

    def __init__(self, conn, bulk=True):
        _Spy.modes.append(bulk)
        super().__init__(conn, bulk)


def test_lazy_resolution_matches_bulk(tmp_path, monkeypatch):
    from repo_rlm.query.repo import Repo

    shutil.copytree(FIXTURE, tmp_path / "repo")
    _Spy.modes = []
    monkeypatch.setattr(resolve_generic, "World", _Spy)
    monkeypatch.setattr(resolve_generic, "BULK", 0)  # the first index: everything loaded up front
    repo = Repo.open(tmp_path / "repo", index_path=tmp_path / "i.db")
    assert _Spy.modes == [True]
    bulk = _resolution(repo.conn)
    assert sum(1 for _i, _t, r in bulk[0] if r == "resolved") >= len(RESOLVED)
    monkeypatch.setattr(resolve_generic, "BULK", 200)
    ids = [fid for (fid,) in repo.conn.execute(f"SELECT f.id FROM files f WHERE {NON_PY} ORDER BY f.id")]
    assert len(ids) > 20
    paths = dict(repo.conn.execute("SELECT id, path FROM files"))
    for fid in ids:  # one file at a time, as after an editor's save, on a fresh connection
        conn = store.connect(tmp_path / "i.db")
        _forget(conn, [fid])
        resolve_generic.resolve_files(conn, [fid])
        assert _resolution(conn) == bulk, paths[fid]
        conn.rollback()
        conn.close()
    conn = store.connect(tmp_path / "i.db")  # all files at once, lazily
    _forget(conn, ids)
    resolve_generic.resolve_files(conn, ids)
    assert _resolution(conn) == bulk
    conn.rollback()
    conn.close()
    assert _Spy.modes == [True] + [False] * (len(ids) + 1)


def test_go_edit_keeps_auth_callers_exact(tmp_path, monkeypatch):
    from repo_rlm.query.repo import Repo

    shutil.copytree(FIXTURE, tmp_path / "repo")
    repo = Repo.open(tmp_path / "repo", index_path=tmp_path / "i.db")
    expected = {("handlers.UserHandler.ServeHTTP", "resolved"), ("auth.Checker.Allow", "resolved")}
    assert {(c.caller, c.resolution) for c in repo.callers_of("auth.CheckRequest")} == expected
    _Spy.modes = []
    monkeypatch.setattr(resolve_generic, "World", _Spy)
    for rel, extra in [("services/gateway/auth/check.go", "\n// Deny refuses everything.\nfunc Deny() bool {\n\treturn !CheckRequest(nil)\n}\n"),
                       ("services/gateway/handlers/users.go", "\nfunc ping(r *http.Request) bool {\n\treturn authz.CheckRequest(r)\n}\n")]:
        path = tmp_path / "repo" / rel
        path.write_text(path.read_text() + extra)
        report = repo.update()
        assert report["updated_files"] == 1
        if rel.endswith("check.go"):
            expected.add(("auth.Deny", "resolved"))
        else:
            expected.add(("handlers.ping", "resolved"))
        assert {(c.caller, c.resolution) for c in repo.callers_of("auth.CheckRequest")} == expected
        assert {(c.caller, c.resolution) for c in repo.callers_of("auth.Checker.Allow")} == {
            ("handlers.UserHandler.ServeHTTP", "resolved")}
    assert _Spy.modes and not any(_Spy.modes)  # resolved lazily


def test_callers_of_a_class_include_calls_of_its_constructor(tmp_path):
    """Calling a class reaches its constructor, spelled per language: Ruby `initialize`, JS
    `constructor`, Java and C++ the class's own name."""
    from repo_rlm.query.repo import Repo

    copy = tmp_path / "polyglot"
    shutil.copytree(FIXTURE, copy)
    repo = Repo.open(copy, index_path=tmp_path / "i.db")
    sites = {name: sorted((c.path, c.line) for c in repo.callers_of(name))
             for name in ("Greeter", "Logger", "UserService", "Circle")}
    assert sites == {
        "Greeter": [("ruby/lib/greeter.rb", 14), ("ruby/lib/greeter.rb", 30)],  # `new(name)`, `Acme::Greeter.new`
        "Logger": [("src/util/log.js", 18)],  # `new Logger(prefix)`
        "UserService": [("java/src/main/java/com/acme/users/UserService.java", 16)],
        "Circle": [("cpp/main.cpp", 9), ("cpp/main.cpp", 10)],  # `geo::Circle small(1.0)`, `new geo::Circle(2.0)`
    }
    # editor references of the class find the constructor calls too
    (greeter,) = repo.find_defs("Greeter", kind="class")
    refs = {(r.path, r.line, r.kind) for r in repo.symbol_references([greeter])}
    assert ("ruby/lib/greeter.rb", 30, "reference") in refs  # the `Greeter` of `Acme::Greeter.new("ada")`
    repo.close()
