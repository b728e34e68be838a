; inherits: ecma,jsx
; Definitions
(class_declaration
  name: (identifier) @name
  (class_heritage [(identifier) (member_expression)] @base)?) @def.class
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @def.function
