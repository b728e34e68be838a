; Shared by javascript, typescript and tsx (`; inherits: ecma`)
; Definitions
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @def.function
; `const requireAuth = (req, res, next) => {...}` is a function named requireAuth
(lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def.function
(variable_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def.function
(pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @def.function
(program (lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(number) (string) (template_string) (true) (false) (object) (array)])) @def.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(program (export_statement (lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(number) (string) (template_string) (true) (false) (object) (array)])) @def.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; Calls
(call_expression function: (_) @callee) @call
(new_expression constructor: (_) @callee) @call.new

; Imports: named `{a as b}`, namespace (name "*"), default (alias only), require(), re-exports
(import_statement (import_clause (named_imports (import_specifier name: (identifier) @import.name alias: (identifier)? @import.alias))) source: (string (string_fragment) @import.module)) @import
(import_statement (import_clause (namespace_import "*" @import.name (identifier) @import.alias)) source: (string (string_fragment) @import.module)) @import
(import_statement (import_clause (identifier) @import.alias) source: (string (string_fragment) @import.module)) @import
(import_statement . source: (string (string_fragment) @import.module)) @import
(export_statement (export_clause (export_specifier name: (identifier) @import.name alias: (identifier)? @import.alias)) source: (string (string_fragment) @import.module)) @import
(variable_declarator
  name: (identifier) @import.alias
  value: (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import
(variable_declarator
  name: (object_pattern [(shorthand_property_identifier_pattern) @import.name
                         (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
  value: (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import
(expression_statement
  (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import

; Bindings the resolver uses to type receivers
(variable_declarator name: (identifier) @bind.name value: (new_expression constructor: (_) @bind.new)) @bind
(variable_declarator name: (identifier) @bind.name value: (call_expression function: (_) @bind.call) (#not-eq? @bind.call "require")) @bind
(assignment_expression
  left: (member_expression object: (this) @bind.self property: (property_identifier) @bind.name)
  right: (new_expression constructor: (_) @bind.new)) @bind
