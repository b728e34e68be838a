; inherits: ecma
; Definitions
(class_declaration
  name: (type_identifier) @name
  (class_heritage (extends_clause value: (_) @base))?) @def.class
(class_declaration
  name: (type_identifier) @name
  (class_heritage (implements_clause [(type_identifier) (nested_type_identifier) (generic_type)] @base))) @def.class
(abstract_class_declaration
  name: (type_identifier) @name
  (class_heritage (extends_clause value: (_) @base))?) @def.class
(abstract_class_declaration
  name: (type_identifier) @name
  (class_heritage (implements_clause [(type_identifier) (nested_type_identifier) (generic_type)] @base))) @def.class
(interface_declaration
  name: (type_identifier) @name
  (extends_type_clause type: (_) @base)?) @def.interface
(type_alias_declaration name: (type_identifier) @name) @def.type
(enum_declaration name: (identifier) @name) @def.enum
(internal_module name: [(identifier) (nested_identifier)] @name) @def.namespace
(method_signature name: (property_identifier) @name) @def.function
(abstract_method_signature name: (property_identifier) @name) @def.function
(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @def.function

; Bindings: typed declarations and parameters
(variable_declarator name: (identifier) @bind.name type: (type_annotation [(type_identifier) (generic_type) (nested_type_identifier)] @bind.type)) @bind
(required_parameter pattern: (identifier) @bind.name type: (type_annotation [(type_identifier) (generic_type) (nested_type_identifier)] @bind.type)) @bind
(optional_parameter pattern: (identifier) @bind.name type: (type_annotation [(type_identifier) (generic_type) (nested_type_identifier)] @bind.type)) @bind
; class fields and constructor parameter properties type `this.x`
(public_field_definition
  name: (property_identifier) @bind.name @bind.self
  type: (type_annotation [(type_identifier) (generic_type) (nested_type_identifier)] @bind.type)) @bind
(public_field_definition
  name: (property_identifier) @bind.name @bind.self
  value: (new_expression constructor: (_) @bind.new)) @bind
(required_parameter (accessibility_modifier)
  pattern: (identifier) @bind.name @bind.self
  type: (type_annotation [(type_identifier) (generic_type) (nested_type_identifier)] @bind.type)) @bind
(public_field_definition
  name: (property_identifier) @bind.name @bind.self
  value: [(identifier) (member_expression)] @bind.alias) @bind
