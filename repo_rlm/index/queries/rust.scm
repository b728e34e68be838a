; Definitions (an impl block is a scope named after its type)
(function_item name: (identifier) @name) @def.function
(function_signature_item name: (identifier) @name) @def.function
(struct_item name: (type_identifier) @name) @def.struct
(union_item name: (type_identifier) @name) @def.struct
(enum_item name: (type_identifier) @name) @def.enum
(trait_item name: (type_identifier) @name
  bounds: (trait_bounds [(type_identifier) (scoped_type_identifier) (generic_type)] @base)?) @def.trait
(type_item name: (type_identifier) @name) @def.type
(const_item name: (identifier) @name) @def.constant
(static_item name: (identifier) @name) @def.constant
(mod_item name: (identifier) @name body: (declaration_list)) @def.namespace
(macro_definition name: (identifier) @name) @def.function
(impl_item type: (type_identifier) @name) @scope
(impl_item trait: [(type_identifier) (scoped_type_identifier) (generic_type)] @base type: (type_identifier) @name) @scope
(impl_item type: (generic_type type: (type_identifier) @name)) @scope
(impl_item type: (scoped_type_identifier name: (type_identifier) @name)) @scope

; Calls (macros too: `format!` is a call of `format`)
(call_expression function: (_) @callee) @call
(macro_invocation macro: (_) @callee) @call

; Imports: `use a::b::C` is module a::b, name C; `use a::{b, c as d}`; `use a::*` name "*"
(use_declaration argument: (scoped_identifier path: (_) @import.module name: (identifier) @import.name)) @import
(use_declaration argument: (identifier) @import.module) @import
(use_declaration argument: (use_as_clause path: (scoped_identifier path: (_) @import.module name: (identifier) @import.name) alias: (identifier) @import.alias)) @import
(use_declaration argument: (use_as_clause path: (identifier) @import.module alias: (identifier) @import.alias)) @import
(use_declaration argument: (scoped_use_list path: (_) @import.module list: (use_list [(identifier) (self)] @import.name))) @import
(use_declaration argument: (scoped_use_list path: (_) @import.module
  list: (use_list (use_as_clause path: (identifier) @import.name alias: (identifier) @import.alias)))) @import
(use_declaration argument: (use_wildcard (_) @import.module "*" @import.name)) @import

; Bindings
(let_declaration pattern: (identifier) @bind.name type: (_) @bind.type) @bind
(let_declaration pattern: (identifier) @bind.name value: (call_expression function: (_) @bind.call)) @bind
(let_declaration pattern: (identifier) @bind.name value: (struct_expression name: (_) @bind.new)) @bind
(parameter pattern: (identifier) @bind.name type: (_) @bind.type) @bind
; struct fields type `self.x`
(field_declaration name: (field_identifier) @bind.name @bind.self type: (_) @bind.type) @bind
