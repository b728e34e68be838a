; Package: the namespace (`Acme\Auth` becomes `Acme.Auth`)
(namespace_definition name: (namespace_name) @package)

; Definitions (a used trait counts as a base)
(class_declaration name: (name) @name (base_clause [(name) (qualified_name)] @base)?) @def.class
(class_declaration name: (name) @name (class_interface_clause [(name) (qualified_name)] @base)) @def.class
(class_declaration name: (name) @name body: (declaration_list (use_declaration [(name) (qualified_name)] @base))) @def.class
(interface_declaration name: (name) @name (base_clause [(name) (qualified_name)] @base)?) @def.interface
(trait_declaration name: (name) @name) @def.trait
(enum_declaration name: (name) @name) @def.enum
(function_definition name: (name) @name) @def.function
(method_declaration name: (name) @name) @def.function
(const_declaration (const_element (name) @name)) @def.constant

; Calls: `f()`, `$this->m()`, `$x?->m()`, `Foo::m()`, `new Foo`
(function_call_expression function: (_) @callee) @call
(member_call_expression) @callee @call
(nullsafe_member_call_expression) @callee @call
(scoped_call_expression) @callee @call
(object_creation_expression (name) @callee) @call.new
(object_creation_expression (qualified_name) @callee) @call.new

; Imports: `use A\B\C as D;` is module A\B, name C, alias D
(namespace_use_clause (qualified_name prefix: (namespace_name) @import.module (name) @import.name) alias: (name)? @import.alias) @import
(namespace_use_clause . (name) @import.name alias: (name)? @import.alias) @import

; Bindings
(assignment_expression left: (variable_name) @bind.name right: (object_creation_expression (name) @bind.new)) @bind
(simple_parameter type: (named_type) @bind.type name: (variable_name) @bind.name) @bind
(property_promotion_parameter type: (named_type) @bind.type @bind.self name: (variable_name) @bind.name) @bind
