; Definitions
(function_definition name: (identifier) @name) @def.function
(class_definition
  name: (identifier) @name
  superclasses: (argument_list [(identifier) (attribute)]* @base)?) @def.class
; assignments are kept only at module and class level (parse.py drops locals)
(expression_statement (assignment left: (identifier) @name) @def.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(expression_statement (assignment left: (identifier) @name) @def.variable
  (#match? @name "^_*[a-z][A-Za-z0-9_]*$"))

; Calls (a bare decorator is a call of it with the decorated function)
(call function: (_) @callee) @call
(decorator [(identifier) (attribute)] @callee) @call
(decorator (call) @callee) @call

; Imports
(import_statement name: (dotted_name) @import.module) @import
(import_statement name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (_) @import.module name: (dotted_name) @import.name) @import
(import_from_statement module_name: (_) @import.module
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (_) @import.module (wildcard_import) @import.name) @import

; Bindings the resolver uses to type receivers (annotations); value flow is below
(assignment left: (identifier) @bind.name type: (type) @bind.type) @bind
(typed_parameter (identifier) @bind.name type: (type) @bind.type) @bind
(typed_default_parameter name: (identifier) @bind.name type: (type) @bind.type) @bind

; Value flow (pyflow.py): assignments, defaults, returns, loops, with, operators, decorators, lambdas
(expression_statement (assignment) @flow.assign)
(default_parameter) @flow.default
(typed_default_parameter) @flow.default
(return_statement) @flow.return
(for_statement) @flow.for
(with_item value: (_) @flow.with)
; operators only where the left operand is something pyflow follows (a name, attribute, call, subscript)
(binary_operator left: [(identifier) (attribute) (call) (subscript)]) @flow.op
(comparison_operator . [(identifier) (attribute) (call) (subscript)]) @flow.op
(decorated_definition) @flow.deco
(lambda) @flow.lambda
