; Package
(package_clause (package_identifier) @package)

; Definitions
(function_declaration name: (identifier) @name) @def.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (_) @receiver))
  name: (field_identifier) @name) @def.function
(type_spec name: (type_identifier) @name
  type: (struct_type (field_declaration_list (field_declaration !name type: (_) @base)?))) @def.struct
(type_spec name: (type_identifier) @name
  type: (interface_type (type_elem (_) @base)?)) @def.interface
(type_spec name: (type_identifier) @name
  type: [(type_identifier) (qualified_type) (function_type) (map_type) (slice_type) (array_type)
         (pointer_type) (channel_type) (generic_type)]) @def.type
(type_alias name: (type_identifier) @name) @def.type
(method_elem name: (field_identifier) @name) @def.function
(source_file (const_declaration (const_spec name: (identifier) @name) @def.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @def.variable))

; Calls
(call_expression function: (_) @callee) @call

; Imports: the alias is the local package name (`.` and `_` as written)
(import_spec name: (_)? @import.alias path: (interpreted_string_literal) @import.module) @import

; Bindings: x := &Foo{}, x := Foo{}, x := NewFoo(), var x Foo, typed parameters and receivers
(short_var_declaration left: (expression_list . (identifier) @bind.name)
  right: (expression_list . (unary_expression operand: (composite_literal type: (_) @bind.new)))) @bind
(short_var_declaration left: (expression_list . (identifier) @bind.name)
  right: (expression_list . (composite_literal type: (_) @bind.new))) @bind
(short_var_declaration left: (expression_list . (identifier) @bind.name)
  right: (expression_list . (call_expression function: (_) @bind.call))) @bind
(var_spec name: (identifier) @bind.name type: (_) @bind.type) @bind
(parameter_declaration name: (identifier) @bind.name type: (_) @bind.type) @bind
; struct fields type `recv.x`
(field_declaration name: (field_identifier) @bind.name @bind.self type: (_) @bind.type) @bind
; Function and method values. `f := s.Run`, `var f = helper`: an alias the resolver follows at
; `f()`. A value passed on (`use(s.Handle)`, `Server{Handler: s.Handle}`, `return s.Run`) is a bind
; whose name is its own value: the resolver makes it an edge when it names a function or method.
(short_var_declaration left: (expression_list . (identifier) @bind.name)
  right: (expression_list . [(selector_expression) (identifier)] @bind.alias .)) @bind
(var_spec name: (identifier) @bind.name value: (expression_list . [(selector_expression) (identifier)] @bind.alias .)) @bind
(argument_list (selector_expression) @bind.name @bind.alias @bind)
(argument_list (identifier) @bind.name @bind.alias @bind (#not-match? @bind.name "^(err|ctx|_|ok|i|n)$"))
(keyed_element value: (literal_element [(selector_expression) (identifier)] @bind.name @bind.alias @bind))
(return_statement (expression_list (selector_expression) @bind.name @bind.alias @bind))
; Variadic parameters (a local, never a package function of the same name passed on)
(variadic_parameter_declaration name: (identifier) @bind.name type: (_) @bind.type) @bind
