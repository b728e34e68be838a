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

; Imports
(import_statement name: (dotted_name) @import.module) @import
(import_statement name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (_) @import.module name: (dotted_name) @import.name) @import
(import_from_statement module_name: (_) @import.module
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (_) @import.module (wildcard_import) @import.name) @import

; Bindings the resolver uses to type receivers
(assignment left: (identifier) @bind.name right: (call function: (_) @bind.call)) @bind
(assignment left: (identifier) @bind.name right: [(identifier) (attribute)] @bind.alias) @bind
(assignment left: (identifier) @bind.name type: (type) @bind.type) @bind
(assignment
  left: (attribute object: (identifier) @bind.self attribute: (identifier) @bind.name)
  right: (call function: (_) @bind.call)
  (#eq? @bind.self "self")) @bind
(typed_parameter (identifier) @bind.name type: (type) @bind.type) @bind
(typed_default_parameter name: (identifier) @bind.name type: (type) @bind.type) @bind
