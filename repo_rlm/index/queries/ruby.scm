; Definitions
(method name: (_) @name) @def.function
(singleton_method name: (_) @name) @def.function
(class name: [(constant) (scope_resolution)] @name superclass: (superclass (_) @base)?) @def.class
(module name: [(constant) (scope_resolution)] @name) @def.module
(assignment left: (constant) @name) @def.constant

; Calls: `recv.m(args)`, `m args`, `recv.m`; `Foo.new` is a constructor call.
; A bare `m` alone as a statement is a call unless the method assigns or takes a local `m` (parse.py).
(body_statement (identifier) @callee @call)
(call method: (_) @_m (#not-match? @_m "^(require|require_relative|new)$")) @callee @call
(call receiver: (_) method: (identifier) @_m (#eq? @_m "new")) @callee @call.new
(call !receiver method: (identifier) @_m (#eq? @_m "new")) @callee @call.new

; Imports
(call method: (identifier) @_m arguments: (argument_list . (string (string_content) @import.module))
  (#any-of? @_m "require" "require_relative")) @import

; Bindings: x = Foo.new / x = make, @x = Foo.new (an attribute of the enclosing class)
(assignment left: (identifier) @bind.name right: (call) @bind.call) @bind
(assignment left: (instance_variable) @bind.name @bind.self right: (call) @bind.call) @bind
